// qdit synth: every schema parameter written once with trained-model-like statistics, deterministic, identical
// data in both namespaces, config.json that parses back, Wan2.2 A14B trees, and its usage errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>

#include "qdit/core/half.h"
#include "qdit/io/checkpoint_layout.h"
#include "qdit/models/wan/rules.h"
#include "qdit/models/wan/schema.h"
#include "qdit/quantize/config_writer.h"
#include "quantize_fixture.h"

namespace qdit::quantize {
namespace {

using qtest::tiny_synth;

std::shared_ptr<SafetensorsFile> open_weights(const std::string& dir) {
  return SafetensorsFile::open(dir + "/diffusion_pytorch_model.safetensors");
}

std::vector<float> as_f32(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = static_cast<float>(element_as_double(t, i));
  return v;
}

void moments(const std::vector<float>& v, double& mean, double& sd) {
  mean = 0;
  for (float f : v) mean += f;
  mean /= static_cast<double>(v.size());
  double var = 0;
  for (float f : v) var += (f - mean) * (f - mean);
  sd = std::sqrt(var / static_cast<double>(v.size()));
}

TEST(Synth, WritesEverySchemaParameterOnceWithTrainedLikeStatistics) {
  test::TempDir tmp;
  SynthOptions o = tiny_synth(tmp.path() + "/m");
  SynthResult r = synthesize(o);
  ASSERT_EQ(r.component_dirs.size(), 1u);
  const wan::WanConfig c = synth_config(o);
  const wan::WanSchema schema = wan::build_schema(c);
  auto f = open_weights(tmp.path() + "/m");
  ASSERT_EQ(f->tensors().size(), schema.params.size());
  EXPECT_EQ(r.tensors, static_cast<int64_t>(schema.params.size()));
  int checked_linears = 0;
  for (const wan::ParamDecl& p : schema.params) {
    const TensorInfo* t = f->find(p.canonical);
    ASSERT_NE(t, nullptr) << p.canonical;
    EXPECT_EQ(t->shape, p.shape) << p.canonical;
    EXPECT_EQ(t->dtype, DType::F32);
    const std::vector<float> v = as_f32(f->view(*t));
    double mean, sd;
    moments(v, mean, sd);
    if (v.size() < 2000) continue;  // too few samples for a moment check
    switch (p.role) {
      case wan::ParamRole::LinearWeight: {
        // Fan-in scaling: sd = 1/sqrt(K).
        const double want = 1.0 / std::sqrt(static_cast<double>(p.shape[1]));
        EXPECT_NEAR(sd, want, 0.1 * want) << p.canonical;
        EXPECT_NEAR(mean, 0.0, 0.1 * want) << p.canonical;
        ++checked_linears;
        break;
      }
      case wan::ParamRole::ConvWeight: {
        const double want = 1.0 / std::sqrt(static_cast<double>(p.shape[1] * p.shape[2] * p.shape[3] * p.shape[4]));
        EXPECT_NEAR(sd, want, 0.1 * want) << p.canonical;
        break;
      }
      default: break;
    }
  }
  EXPECT_GT(checked_linears, 10);
  // Small tensors: every norm weight sits near 1 and no parameter is all zeros.
  for (const wan::ParamDecl& p : schema.params) {
    const std::vector<float> v = as_f32(f->view(*f->find(p.canonical)));
    double mean, sd;
    moments(v, mean, sd);
    EXPECT_GT(sd, 0.0) << p.canonical;
    if (p.role == wan::ParamRole::Norm) {
      EXPECT_NEAR(mean, 1.0, 0.05) << p.canonical;
    }
    if (p.role == wan::ParamRole::Modulation) {
      EXPECT_LT(sd, 3.0 / std::sqrt(64.0)) << p.canonical;
    }
  }
}

TEST(Synth, DeterministicAndTheSameDataInBothNamespaces) {
  test::TempDir tmp;
  synthesize(tiny_synth(tmp.path() + "/a"));
  synthesize(tiny_synth(tmp.path() + "/b"));
  synthesize(tiny_synth(tmp.path() + "/n", NameSpace::Native));
  SynthOptions other = tiny_synth(tmp.path() + "/s");
  other.seed = 8;
  synthesize(other);
  EXPECT_EQ(test::read_text(tmp.path() + "/a/diffusion_pytorch_model.safetensors"),
            test::read_text(tmp.path() + "/b/diffusion_pytorch_model.safetensors"));
  auto a = open_weights(tmp.path() + "/a"), n = open_weights(tmp.path() + "/n"), s = open_weights(tmp.path() + "/s");
  std::set<std::string> native_names;
  for (const TensorInfo& t : a->tensors()) {
    const std::string native = wan::wan_diffusers_to_native().map(t.name).name;
    native_names.insert(native);
    const TensorInfo* tn = n->find(native);
    ASSERT_NE(tn, nullptr) << native;
    ASSERT_EQ(tn->shape, t.shape);
    const Tensor va = a->view(t), vn = n->view(*tn), vs = s->view(*s->find(t.name));
    EXPECT_EQ(std::memcmp(va.raw(), vn.raw(), va.nbytes()), 0) << t.name;
    EXPECT_NE(std::memcmp(va.raw(), vs.raw(), va.nbytes()), 0) << t.name << " must change with the seed";
  }
  EXPECT_EQ(native_names.size(), n->tensors().size());
  EXPECT_NE(n->find("blocks.0.self_attn.q.weight"), nullptr);
  EXPECT_NE(n->find("blocks.1.norm3.weight"), nullptr);  // Diffusers norm2 is native norm3
  EXPECT_NE(n->find("head.head.weight"), nullptr);
}

TEST(Synth, HalfDtypesAreTheRoundedF32Draw) {
  test::TempDir tmp;
  synthesize(tiny_synth(tmp.path() + "/f", NameSpace::Diffusers, DType::F32));
  synthesize(tiny_synth(tmp.path() + "/b", NameSpace::Diffusers, DType::BF16));
  synthesize(tiny_synth(tmp.path() + "/h", NameSpace::Diffusers, DType::F16));
  auto f = open_weights(tmp.path() + "/f"), b = open_weights(tmp.path() + "/b"), h = open_weights(tmp.path() + "/h");
  for (const TensorInfo& t : f->tensors()) {
    const Tensor vf = f->view(t), vb = b->view(*b->find(t.name)), vh = h->view(*h->find(t.name));
    ASSERT_EQ(vb.dtype(), DType::BF16);
    ASSERT_EQ(vh.dtype(), DType::F16);
    for (int64_t i = 0; i < vf.numel(); ++i) {
      ASSERT_EQ(vb.data<uint16_t>()[i], f32_to_bf16(vf.data<float>()[i])) << t.name << "[" << i << "]";
      ASSERT_EQ(vh.data<uint16_t>()[i], f32_to_f16(vf.data<float>()[i])) << t.name << "[" << i << "]";
    }
  }
}

TEST(Synth, ConfigInEitherFormParsesBackToTheSameModel) {
  for (const char* variant : {"wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "wan2.1-i2v-14b", "wan2.2-ti2v-5b",
                              "wan2.2-t2v-a14b", "wan2.2-i2v-a14b"}) {
    const wan::WanConfig c = wan::released_config(variant);
    for (NameSpace ns : {NameSpace::Diffusers, NameSpace::Native}) {
      wan::WanConfig back = wan::parse_wan_config_text(wan_config_json(c, ns).dump(), "config.json");
      // Native i2v configs do not say whether the CLIP branch exists; the checkpoint's tensors settle it.
      back = wan::settle_image_branch(back, c.has_image_branch, "config.json");
      EXPECT_EQ(back.dim, c.dim) << variant;
      EXPECT_EQ(back.ffn_dim, c.ffn_dim) << variant;
      EXPECT_EQ(back.num_heads, c.num_heads) << variant;
      EXPECT_EQ(back.num_layers, c.num_layers) << variant;
      EXPECT_EQ(back.in_channels, c.in_channels) << variant;
      EXPECT_EQ(back.out_channels, c.out_channels) << variant;
      EXPECT_EQ(back.has_image_branch, c.has_image_branch) << variant;
      EXPECT_EQ(back.eps, c.eps) << variant;
      EXPECT_EQ(wan::identify_variant(back), wan::identify_variant(c)) << variant;
    }
  }
  EXPECT_EQ(wan_config_json(wan::released_config("wan2.2-ti2v-5b"), NameSpace::Native)["model_type"], "ti2v");
  EXPECT_EQ(wan_config_json(wan::released_config("wan2.1-t2v-14b"), NameSpace::Diffusers)["eps"].dump(), "1e-06");
}

TEST(Synth, Wan22ExpertTreesInBothNamespaces) {
  test::TempDir tmp;
  SynthOptions d = tiny_synth(tmp.path() + "/d", NameSpace::Diffusers, DType::BF16, "wan2.2-t2v-a14b");
  SynthOptions n = tiny_synth(tmp.path() + "/n", NameSpace::Native, DType::BF16, "wan2.2-t2v-a14b");
  EXPECT_EQ(synthesize(d).component_dirs.size(), 2u);
  synthesize(n);
  const CheckpointLayout ld = detect_layout(d.out), ln = detect_layout(n.out);
  EXPECT_EQ(ld.kind, LayoutKind::DiffusersPipeline);
  ASSERT_EQ(ld.components.size(), 2u);
  EXPECT_EQ(ld.components[1].name, "transformer_2");
  ASSERT_EQ(ln.components.size(), 2u);
  EXPECT_EQ(ln.components[0].name, "high_noise_model");
  EXPECT_EQ(qtest::read_json(d.out + "/model_index.json")["boundary_ratio"], 0.875);
  // The experts are different models.
  auto hi = open_weights(d.out + "/transformer"), lo = open_weights(d.out + "/transformer_2");
  const TensorInfo* t = hi->find("blocks.0.attn1.to_q.weight");
  EXPECT_NE(std::memcmp(hi->view(*t).raw(), lo->view(*lo->find(t->name)).raw(), hi->view(*t).nbytes()), 0);
  for (const auto& p : load::plan_checkpoint(n.out)) EXPECT_TRUE(p.ok()) << qtest::problems_text(p);
}

TEST(Synth, I2VAndTi2vVariantsPlanCleanlyAndTakeTheirInputs) {
  test::TempDir tmp;
  for (const char* variant : {"wan2.1-i2v-14b", "wan2.2-ti2v-5b"}) {
    for (NameSpace ns : {NameSpace::Diffusers, NameSpace::Native}) {
      SynthOptions o = tiny_synth(tmp.path() + "/" + variant + name_space_name(ns), ns, DType::BF16, variant);
      // TI2V's head writes 4 x 48 = 192 outputs per token; the forward's scratch buffers hold max(D, F) per
      // token (always enough for the released sizes), so the shrunk model keeps F >= 192.
      o.ffn = 256;
      synthesize(o);
      load::ComponentPlan p = qtest::plan_one(o.out);
      EXPECT_TRUE(p.ok()) << variant << "\n" << qtest::problems_text(p);
      EXPECT_EQ(p.config.has_image_branch, std::string(variant) == "wan2.1-i2v-14b");
      const std::string in = qtest::write_inputs(tmp.path() + "/in.safetensors", o, 3);
      const Tensor out = qtest::forward(p, in);
      EXPECT_EQ(out.shape(), (Shape{p.config.out_channels, 2, 4, 4}));
    }
  }
}

TEST(Synth, SizesNoWanDiTCanHaveAreUsageErrors) {
  test::TempDir tmp;
  auto kind_of = [&](SynthOptions o) {
    try {
      synth_config(o);
    } catch (const Error& e) {
      return e.kind();
    }
    return ErrorKind::Internal;
  };
  SynthOptions o = tiny_synth(tmp.path() + "/x");
  o.heads = 3;  // 64 / 3
  EXPECT_EQ(kind_of(o), ErrorKind::Usage);
  o.heads = 64;  // head dim 1: odd
  EXPECT_EQ(kind_of(o), ErrorKind::Usage);
  o = tiny_synth(tmp.path() + "/x");
  o.heads.reset();
  o.dim = 100;  // keeps head dim 128, which does not divide 100
  EXPECT_EQ(kind_of(o), ErrorKind::Usage);
  o.dim = 256;
  EXPECT_EQ(synth_config(o).num_heads, 2);
  o.layers = 0;
  EXPECT_EQ(kind_of(o), ErrorKind::Usage);
  o = tiny_synth(tmp.path() + "/x");
  o.variant = "wan3";
  EXPECT_EQ(kind_of(o), ErrorKind::Usage);
  o = tiny_synth(tmp.path() + "/x", NameSpace::Diffusers, DType::I8);
  EXPECT_THROW(synthesize(o), Error);
}

}  // namespace
}  // namespace qdit::quantize
