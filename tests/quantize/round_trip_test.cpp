// synth -> quantize (each scheme, each layout, each namespace) -> plan (no problems, the right scheme per layer)
// -> run, with the relative error of the quantized output against the float model reported per scheme.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "qdit/models/wan/schema.h"
#include "qdit/quantize/exclude_globs.h"
#include "qdit/quantize/layer_quantizer.h"
#include "qdit/quantize/quality_check.h"
#include "qdit/quantize/quantizer.h"
#include "quantize_fixture.h"

namespace qdit::quantize {
namespace {

namespace fs = std::filesystem;

struct Combo {
  OutputLayout layout;
  NameSpace names;
  bool exclude_ffn_down;  // the msModelSlim Wan recipe keeps '*ffn.net.2*' in float
};

const Combo kCombos[] = {
    {OutputLayout::AscendV1, NameSpace::Diffusers, false}, {OutputLayout::AscendV1, NameSpace::Native, true},
    {OutputLayout::MindIE, NameSpace::Native, false},      {OutputLayout::MindIE, NameSpace::Diffusers, true},
    {OutputLayout::Repacked, NameSpace::Diffusers, true},
};

// Every runtime linear gets the target scheme when all its canonical parts are quantizable and not excluded.
void expect_schemes(const load::ComponentPlan& plan, SchemeId scheme, bool exclude_ffn_down, const std::string& what) {
  const wan::WanSchema schema = wan::build_schema(plan.config);
  std::map<std::string, bool> quantizable;
  for (const auto& l : schema.linears)
    quantizable[l.canonical] =
        l.quantizable && !(exclude_ffn_down && l.canonical.find("ffn.net.2") != std::string::npos);
  int quantized = 0;
  for (const load::LinearPlan& l : plan.linears) {
    ASSERT_TRUE(l.scheme.has_value()) << what << " " << l.runtime;
    const bool q = quantizable.at(l.shards.front().canonical);
    EXPECT_EQ(*l.scheme, q ? scheme : SchemeId::Float) << what << " " << l.runtime;
    quantized += q;
  }
  EXPECT_EQ(quantized, 2 * (exclude_ffn_down ? 6 : 7) + 1) << what;  // runtime layers: qkv,o,q,kv,o,up(,down)
}

TEST(QuantizeRoundTrip, EverySchemeLayoutAndNamespacePlansAndRuns) {
  test::TempDir tmp;
  const SynthOptions model = qtest::tiny_synth(tmp.path() + "/float");
  synthesize(model);
  // Calibration across the schedule (activation ranges move with the timestep through the modulation), then an
  // evaluation on other noise and text at a timestep between the calibrated ones, as a user would run the model.
  std::vector<std::string> calib;
  for (float t : {999.0f, 750.0f, 500.0f, 250.0f, 1.0f})
    calib.push_back(qtest::write_inputs(tmp.path() + "/calib" + std::to_string(calib.size()) + ".safetensors", model,
                                        20 + calib.size(), t, 16));
  const std::string eval = qtest::write_inputs(tmp.path() + "/eval.safetensors", model, 12, 600.0f, 8);
  const Tensor reference = qtest::forward(qtest::plan_one(model.out), eval);

  std::printf("\n  relative L2 error of noise_pred vs the float model (2 blocks, D=64):\n");
  for (SchemeId scheme : {SchemeId::W8A8Dynamic, SchemeId::W8A8, SchemeId::W8A16, SchemeId::W4A4Dynamic}) {
    std::map<bool, Tensor> first_output;  // by exclude_ffn_down: outputs must not depend on layout or names
    for (const Combo& c : kCombos) {
      const std::string what = std::string(scheme_name(scheme)) + " " + layout_name(c.layout) + " " +
                               name_space_name(c.names) + (c.exclude_ffn_down ? " excl-ffn-down" : "");
      QuantizeOptions o;
      o.src = model.out;
      o.out = tmp.path() + "/" + target_scheme_flag(scheme) + "_" + layout_name(c.layout) + name_space_name(c.names);
      o.scheme = scheme;
      o.layout = c.layout;
      o.names = c.names;
      if (c.exclude_ffn_down) o.excludes = {"*ffn.net.2*"};
      if (scheme == SchemeId::W8A8) o.calibration = calib;
      const QuantizeReport rep = quantize_checkpoint(o);
      EXPECT_TRUE(rep.warnings.empty()) << what;

      const load::ComponentPlan plan = qtest::plan_one(o.out);
      ASSERT_TRUE(plan.ok()) << what << "\n" << qtest::problems_text(plan);
      EXPECT_EQ(plan.checkpoint_namespace, name_space_name(c.names)) << what;
      EXPECT_EQ(plan.description_namespace, name_space_name(c.names)) << what;
      EXPECT_EQ(plan.warning_count(), 0u) << what << "\n" << qtest::problems_text(plan);
      expect_schemes(plan, scheme, c.exclude_ffn_down, what);

      const Tensor out = qtest::forward(plan, eval);
      const double err = qtest::relative_l2(out, reference);
      std::printf("    %-60s %.4f\n", what.c_str(), err);
      ::testing::Test::RecordProperty("rel_error " + what, std::to_string(err));
      EXPECT_GT(err, 0.0) << what << ": a quantized model cannot be exact";
      if (scheme == SchemeId::W4A4Dynamic) {
        EXPECT_LT(err, 0.5) << what;  // int4 activations: large but bounded
      } else {
        EXPECT_LT(err, 0.02) << what;  // the W8A8 schemes (and weight-only W8A16) stay below 2 %
      }
      auto [it, fresh] = first_output.emplace(c.exclude_ffn_down, out);
      if (!fresh) {
        ASSERT_EQ(std::memcmp(out.raw(), it->second.raw(), out.nbytes()), 0)
            << what << ": the same quantized model must run identically in every layout and namespace";
      }
    }
  }
}

TEST(QuantizeRoundTrip, Wan22ExpertTreeBf16NativeStaticW8A8) {
  test::TempDir tmp;
  const SynthOptions model = qtest::tiny_synth(tmp.path() + "/a14b", NameSpace::Native, DType::BF16, "wan2.2-t2v-a14b");
  synthesize(model);
  std::vector<std::string> calib;
  for (float t : {999.0f, 750.0f, 500.0f, 250.0f, 1.0f})
    calib.push_back(qtest::write_inputs(tmp.path() + "/calib" + std::to_string(calib.size()) + ".safetensors", model,
                                        5 + calib.size(), t, 16));
  const std::string eval = qtest::write_inputs(tmp.path() + "/eval.safetensors", model, 9, 600.0f, 8);
  for (OutputLayout layout : {OutputLayout::MindIE, OutputLayout::Repacked}) {
    QuantizeOptions o;
    o.src = model.out;
    o.out = tmp.path() + "/q_" + layout_name(layout);
    o.scheme = SchemeId::W8A8;
    o.layout = layout;
    o.calibration = calib;
    o.excludes = {"*ffn.net.2*"};
    const QuantizeReport rep = quantize_checkpoint(o);
    ASSERT_EQ(rep.components.size(), 2u);
    const bool native = layout == OutputLayout::MindIE;
    EXPECT_TRUE(fs::exists(o.out + (native ? "/high_noise_model/quant_model_weight_w8a8.safetensors"
                                           : "/transformer_2/diffusion_pytorch_model.safetensors")));
    EXPECT_EQ(fs::exists(o.out + "/model_index.json"), !native);
    const std::vector<load::ComponentPlan> plans = load::plan_checkpoint(o.out);
    ASSERT_EQ(plans.size(), 2u);
    for (size_t e = 0; e < 2; ++e) {
      ASSERT_TRUE(plans[e].ok()) << qtest::problems_text(plans[e]);
      expect_schemes(plans[e], SchemeId::W8A8, true, plans[e].files.name);
      // Calibration fed each expert: its float twin is the matching source component.
      const load::ComponentPlan src = qtest::plan_one(model.out, e == 0 ? "high_noise_model" : "low_noise_model");
      const double err = qtest::relative_l2(qtest::forward(plans[e], eval), qtest::forward(src, eval));
      std::printf("    W8A8 static, bf16 A14B expert %s (%s): %.4f\n", plans[e].files.name.c_str(), layout_name(layout),
                  err);
      EXPECT_LT(err, 0.02);
      EXPECT_GT(err, 0.0);
    }
  }
}

TEST(QuantizeRoundTrip, OptionAndSourceErrors) {
  test::TempDir tmp;
  const SynthOptions model = qtest::tiny_synth(tmp.path() + "/float");
  synthesize(model);
  auto kind = [&](QuantizeOptions o, std::string* msg = nullptr) {
    try {
      quantize_checkpoint(o);
    } catch (const Error& e) {
      if (msg) *msg = e.what();
      return e.kind();
    }
    return ErrorKind::Internal;
  };
  QuantizeOptions o;
  o.src = model.out;
  o.out = tmp.path() + "/q";
  o.scheme = SchemeId::W8A8;
  std::string msg;
  EXPECT_EQ(kind(o, &msg), ErrorKind::Usage);
  EXPECT_NE(msg.find("--calibration"), std::string::npos) << msg;
  EXPECT_NE(msg.find("static"), std::string::npos) << msg;
  o.scheme = SchemeId::W8A8Dynamic;
  o.calibration = {"x.safetensors"};
  EXPECT_EQ(kind(o), ErrorKind::Usage);
  o.calibration.clear();
  o.layout = OutputLayout::Repacked;
  o.names = NameSpace::Native;
  EXPECT_EQ(kind(o), ErrorKind::Usage);
  o.layout = OutputLayout::AscendV1;
  o.names.reset();
  o.out = o.src;
  EXPECT_EQ(kind(o), ErrorKind::Usage);

  // A calibration input that does not fit the model names the file.
  o.out = tmp.path() + "/q";
  o.scheme = SchemeId::W8A8;
  SynthOptions other = model;
  other.variant = "wan2.2-ti2v-5b";  // 48 input channels
  o.calibration = {qtest::write_inputs(tmp.path() + "/wrong.safetensors", other, 1)};
  EXPECT_EQ(kind(o, &msg), ErrorKind::Checkpoint);
  EXPECT_NE(msg.find("wrong.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("hidden_states"), std::string::npos) << msg;

  // An already quantized source is refused.
  o.scheme = SchemeId::W8A8Dynamic;
  o.calibration.clear();
  quantize_checkpoint(o);
  QuantizeOptions again = o;
  again.src = o.out;
  again.out = tmp.path() + "/q2";
  EXPECT_EQ(kind(again, &msg), ErrorKind::Checkpoint);
  EXPECT_NE(msg.find("already quantized"), std::string::npos) << msg;

  // A source with a problem the plan finds (a missing tensor) names that tensor.
  SafetensorsWriter w(tmp.path() + "/broken/diffusion_pytorch_model.safetensors");
  fs::create_directories(tmp.path() + "/broken");
  fs::copy_file(model.out + "/config.json", tmp.path() + "/broken/config.json");
  {
    auto src = SafetensorsFile::open(model.out + "/diffusion_pytorch_model.safetensors");
    for (const auto& t : src->tensors())
      if (t.name != "blocks.1.attn2.norm_k.weight") w.declare(t.name, t.dtype, t.shape);
    for (const auto& t : src->tensors())
      if (t.name != "blocks.1.attn2.norm_k.weight") w.write(t.name, src->view(t).raw(), src->view(t).nbytes());
    w.finish();
  }
  QuantizeOptions broken = o;
  broken.src = tmp.path() + "/broken";
  broken.out = tmp.path() + "/q3";
  EXPECT_EQ(kind(broken, &msg), ErrorKind::Checkpoint);
  EXPECT_NE(msg.find("blocks.1.attn2.norm_k.weight"), std::string::npos) << msg;

  // An --exclude that matches nothing is reported, not silently ignored.
  QuantizeOptions typo = o;
  typo.out = tmp.path() + "/q4";
  typo.excludes = {"*ffn.net.3*"};
  const QuantizeReport rep = quantize_checkpoint(typo);
  ASSERT_EQ(rep.warnings.size(), 1u);
  EXPECT_NE(rep.warnings[0].find("*ffn.net.3*"), std::string::npos);
}

}  // namespace
}  // namespace qdit::quantize

namespace qdit::quantize {
namespace {

TEST(QuantizeCheck, ReportsTheRelativeErrorOfEachComponent) {
  test::TempDir tmp;
  const SynthOptions model = qtest::tiny_synth(tmp.path() + "/float", NameSpace::Diffusers, DType::BF16,
                                               "wan2.2-t2v-a14b");
  synthesize(model);
  QuantizeOptions o;
  o.src = model.out;
  o.out = tmp.path() + "/q";
  o.scheme = SchemeId::W8A8Dynamic;
  o.layout = OutputLayout::MindIE;  // native folder names: the check must still pair the experts
  quantize_checkpoint(o);
  const std::string in = qtest::write_inputs(tmp.path() + "/in.safetensors", model, 4);
  const auto r = check_quantization(o.src, o.out, in);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].component, "high_noise_model");
  const double want = qtest::relative_l2(qtest::forward(qtest::plan_one(o.out, "high_noise_model"), in),
                                         qtest::forward(qtest::plan_one(o.src, "transformer"), in));
  EXPECT_DOUBLE_EQ(r[0].relative_error, want);
  EXPECT_GT(r[1].relative_error, 0.0);
  EXPECT_LT(r[1].relative_error, 0.02);
  // The float model against itself: exactly 0.
  EXPECT_EQ(check_quantization(o.src, o.src, in)[1].relative_error, 0.0);
}

}  // namespace
}  // namespace qdit::quantize

namespace qdit::quantize {
namespace {

// The I2V image branch (add_k_proj | add_v_proj fused as one runtime layer, fed by the CLIP tokens) and the
// 48-channel TI2V model quantize, plan and run like the T2V model.
TEST(QuantizeRoundTrip, I2VStaticAndTi2vDynamic) {
  test::TempDir tmp;
  struct Case {
    const char* variant;
    SchemeId scheme;
  };
  for (const Case& c : {Case{"wan2.1-i2v-14b", SchemeId::W8A8}, Case{"wan2.2-ti2v-5b", SchemeId::W8A8Dynamic}}) {
    SynthOptions model = qtest::tiny_synth(tmp.path() + "/" + c.variant, NameSpace::Native, DType::BF16, c.variant);
    model.ffn = 256;  // the forward's per-token scratch must hold TI2V's 4 x 48 head outputs (see synth_test)
    synthesize(model);
    QuantizeOptions o;
    o.src = model.out;
    o.out = tmp.path() + "/q_" + c.variant;
    o.scheme = c.scheme;
    o.layout = OutputLayout::Repacked;
    if (c.scheme == SchemeId::W8A8)
      for (float t : {999.0f, 750.0f, 500.0f, 250.0f, 1.0f})
        o.calibration.push_back(qtest::write_inputs(tmp.path() + "/c" + std::to_string(o.calibration.size()) +
                                                        ".safetensors", model, 30 + o.calibration.size(), t, 16));
    quantize_checkpoint(o);
    const load::ComponentPlan plan = qtest::plan_one(o.out);
    ASSERT_TRUE(plan.ok()) << c.variant << "\n" << qtest::problems_text(plan);
    for (const auto& l : plan.linears) {
      const bool in_block = l.runtime.rfind("blocks.", 0) == 0 || l.runtime == "head.proj";
      EXPECT_EQ(*l.scheme, in_block ? c.scheme : SchemeId::Float) << c.variant << " " << l.runtime;
    }
    if (plan.config.has_image_branch) {
      const auto desc = qtest::read_json(o.out + "/quant_model_description.json");
      EXPECT_EQ(desc["blocks.1.attn2.add_k_proj.input_scale"], "W8A8");
      const auto f = SafetensorsFile::open(o.out + "/diffusion_pytorch_model.safetensors");
      // add_k_proj and add_v_proj read the same image tokens: one activation range.
      EXPECT_EQ(f->view(*f->find("blocks.1.attn2.add_k_proj.input_scale")).data<float>()[0],
                f->view(*f->find("blocks.1.attn2.add_v_proj.input_scale")).data<float>()[0]);
      EXPECT_EQ(desc["condition_embedder.image_embedder.ff.net.0.proj.weight"], "FLOAT");
    }
    const std::string eval = qtest::write_inputs(tmp.path() + "/eval.safetensors", model, 3, 600.0f, 8);
    const double err = qtest::relative_l2(qtest::forward(plan, eval), qtest::forward(qtest::plan_one(model.out), eval));
    std::printf("    %s %s: %.4f\n", c.variant, scheme_name(c.scheme), err);
    EXPECT_GT(err, 0.0);
    EXPECT_LT(err, 0.02);
  }
}

}  // namespace
}  // namespace qdit::quantize
