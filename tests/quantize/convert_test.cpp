// qdit convert: native -> Diffusers -> native keeps every tensor's bytes and every description entry, in both
// directions, for float expert trees and quantized raw msModelSlim output; converted checkpoints plan cleanly.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "qdit/models/wan/rules.h"
#include "qdit/quantize/converter.h"
#include "qdit/quantize/quantizer.h"
#include "quantize_fixture.h"

namespace qdit::quantize {
namespace {

namespace fs = std::filesystem;

ConvertOptions to(const std::string& src, const std::string& out, NameSpace names) {
  ConvertOptions o;
  o.src = src;
  o.out = out;
  o.names = names;
  return o;
}

// Tensor name -> bytes of every tensor of a component folder's weight files.
std::map<std::string, std::string> tensor_bytes(const std::string& file) {
  std::map<std::string, std::string> out;
  auto f = SafetensorsFile::open(file);
  for (const auto& t : f->tensors()) {
    const Tensor v = f->view(t);
    out[t.name] = std::string(dtype_name(t.dtype)) + shape_str(t.shape) +
                  std::string(static_cast<const char*>(v.raw()), v.nbytes());
  }
  return out;
}

TEST(Convert, QuantizedRawOutputToRepackedAndBackIsByteIdentical) {
  test::TempDir tmp;
  const SynthOptions model = qtest::tiny_synth(tmp.path() + "/float");
  synthesize(model);
  QuantizeOptions q;
  q.src = model.out;
  q.out = tmp.path() + "/raw";
  q.scheme = SchemeId::W8A8;
  q.layout = OutputLayout::MindIE;  // raw msModelSlim form: native names
  q.calibration = {qtest::write_inputs(tmp.path() + "/c.safetensors", model, 1)};
  q.excludes = {"*ffn.net.2*"};
  quantize_checkpoint(q);

  const auto d = convert_checkpoint(to(q.out, tmp.path() + "/diffusers", NameSpace::Diffusers));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].from, "native");
  EXPECT_GT(d[0].renamed, 0);
  const std::string dd = tmp.path() + "/diffusers";
  EXPECT_TRUE(fs::exists(dd + "/diffusion_pytorch_model.safetensors"));
  EXPECT_TRUE(fs::exists(dd + "/quant_model_description.json"));
  const load::ComponentPlan pd = qtest::plan_one(dd);
  ASSERT_TRUE(pd.ok()) << qtest::problems_text(pd);
  EXPECT_EQ(pd.files.layout, LayoutKind::DiffusersRepacked);
  EXPECT_EQ(pd.description_namespace, "diffusers");

  // Every tensor and description entry is the native one under its Diffusers name.
  const auto raw = tensor_bytes(q.out + "/quant_model_weight_w8a8.safetensors");
  const auto ren = tensor_bytes(dd + "/diffusion_pytorch_model.safetensors");
  ASSERT_EQ(raw.size(), ren.size());
  const auto raw_desc = qtest::read_json(q.out + "/quant_model_description_w8a8.json");
  const auto ren_desc = qtest::read_json(dd + "/quant_model_description.json");
  for (const auto& [name, bytes] : raw) {
    const std::string diff_name = wan::wan_native_to_diffusers().map(name).name;
    ASSERT_TRUE(ren.count(diff_name)) << name << " -> " << diff_name;
    EXPECT_EQ(ren.at(diff_name), bytes) << name;
    EXPECT_EQ(ren_desc.at(diff_name), raw_desc.at(name)) << name;
  }
  EXPECT_EQ(ren_desc["model_quant_type"], raw_desc["model_quant_type"]);
  EXPECT_EQ(ren_desc.size(), raw_desc.size());

  // And back: the same bytes under the same names, the same description.
  convert_checkpoint(to(dd, tmp.path() + "/native", NameSpace::Native));
  EXPECT_EQ(tensor_bytes(tmp.path() + "/native/quant_model_weight_w8a8.safetensors"), raw);
  EXPECT_EQ(qtest::read_json(tmp.path() + "/native/quant_model_description_w8a8.json"), raw_desc);

  // Both run to the same output (the loader sees the same model in either namespace).
  const std::string in = qtest::write_inputs(tmp.path() + "/in.safetensors", model, 2);
  const Tensor a = qtest::forward(qtest::plan_one(q.out), in), b = qtest::forward(pd, in);
  EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0);
}

TEST(Convert, FloatExpertTreeBothWays) {
  test::TempDir tmp;
  const SynthOptions model = qtest::tiny_synth(tmp.path() + "/native", NameSpace::Native, DType::BF16, "wan2.2-t2v-a14b");
  synthesize(model);
  const auto d = convert_checkpoint(to(model.out, tmp.path() + "/d", NameSpace::Diffusers));
  ASSERT_EQ(d.size(), 2u);
  EXPECT_TRUE(d[0].description_file.empty());
  EXPECT_TRUE(fs::exists(tmp.path() + "/d/model_index.json"));
  const CheckpointLayout l = detect_layout(tmp.path() + "/d");
  EXPECT_EQ(l.kind, LayoutKind::DiffusersPipeline);
  for (const auto& p : load::plan_checkpoint(tmp.path() + "/d")) EXPECT_TRUE(p.ok()) << qtest::problems_text(p);
  // The Diffusers tree synth writes for the same seed holds the same data.
  const SynthOptions twin = qtest::tiny_synth(tmp.path() + "/twin", NameSpace::Diffusers, DType::BF16, "wan2.2-t2v-a14b");
  synthesize(twin);
  for (const char* c : {"transformer", "transformer_2"})
    EXPECT_EQ(tensor_bytes(tmp.path() + "/d/" + c + "/diffusion_pytorch_model.safetensors"),
              tensor_bytes(twin.out + "/" + c + "/diffusion_pytorch_model.safetensors"))
        << c;
  convert_checkpoint(to(tmp.path() + "/d", tmp.path() + "/back", NameSpace::Native));
  for (const char* c : {"high_noise_model", "low_noise_model"}) {
    EXPECT_EQ(tensor_bytes(tmp.path() + "/back/" + c + "/diffusion_pytorch_model.safetensors"),
              tensor_bytes(model.out + "/" + c + "/diffusion_pytorch_model.safetensors"))
        << c;
    EXPECT_TRUE(qtest::read_json(tmp.path() + "/back/" + c + "/config.json").contains("num_heads"));
  }
}

TEST(Convert, ShardedInputIsMergedAndErrorsAreNamed) {
  test::TempDir tmp;
  const SynthOptions model = qtest::tiny_synth(tmp.path() + "/float");
  synthesize(model);
  // Split the file into two shards.
  const std::string sharded = tmp.path() + "/sharded";
  fs::create_directories(sharded);
  fs::copy_file(model.out + "/config.json", sharded + "/config.json");
  auto src = SafetensorsFile::open(model.out + "/diffusion_pytorch_model.safetensors");
  std::vector<std::pair<std::string, Tensor>> a, b;
  for (const auto& t : src->tensors()) (t.name < "blocks.1" ? a : b).emplace_back(t.name, src->view(t));
  write_safetensors(sharded + "/diffusion_pytorch_model-00001-of-00002.safetensors", a);
  write_safetensors(sharded + "/diffusion_pytorch_model-00002-of-00002.safetensors", b);
  convert_checkpoint(to(sharded, tmp.path() + "/merged", NameSpace::Native));
  convert_checkpoint(to(tmp.path() + "/merged", tmp.path() + "/again", NameSpace::Diffusers));
  EXPECT_EQ(tensor_bytes(tmp.path() + "/again/diffusion_pytorch_model.safetensors"),
            tensor_bytes(model.out + "/diffusion_pytorch_model.safetensors"));

  // A tensor name no Wan checkpoint has in this namespace, next to native names: the rename would keep a
  // Diffusers-only name among native ones, so namespace detection refuses the mix.
  const std::string mixed = tmp.path() + "/mixed";
  fs::create_directories(mixed);
  fs::copy_file(tmp.path() + "/merged/config.json", mixed + "/config.json");
  auto nat = SafetensorsFile::open(tmp.path() + "/merged/diffusion_pytorch_model.safetensors");
  std::vector<std::pair<std::string, Tensor>> m;
  for (const auto& t : nat->tensors()) m.emplace_back(t.name, nat->view(t));
  m.emplace_back("blocks.0.attn1.to_q.weight", nat->view(*nat->find("blocks.0.self_attn.q.weight")));
  write_safetensors(mixed + "/diffusion_pytorch_model.safetensors", m);
  try {
    convert_checkpoint(to(mixed, tmp.path() + "/x", NameSpace::Diffusers));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Checkpoint);
    EXPECT_NE(std::string(e.what()).find("blocks.0.attn1.to_q.weight"), std::string::npos) << e.what();
  }
  EXPECT_THROW(convert_checkpoint(to(model.out, model.out, NameSpace::Native)), Error);
  EXPECT_THROW(convert_checkpoint(to(tmp.path() + "/nothing", tmp.path() + "/y", NameSpace::Native)), Error);
}

}  // namespace
}  // namespace qdit::quantize
