// `qdit run` end to end: a checkpoint written to disk, loaded by the command, run, written; the result compared
// with an in-process forward of the same model built without the loader (so a loader or plumbing mistake shows).
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "cli/run_test_fixture.h"
#include "qdit/load/plan.h"

namespace qdit::runtest {
namespace {

struct Fixture {
  test::TempDir tmp;
  wan::WanWeights model;
  wan::WanInputs inputs;
  std::string model_dir, in_path, out_path;

  explicit Fixture(const TinySpec& spec) {
    model_dir = tmp.path() + "/model";
    std::filesystem::create_directories(model_dir);
    model = write_component(model_dir, spec);
    inputs = make_inputs(model.config, spec.seed + 100);
    in_path = tmp.file("in.safetensors");
    out_path = tmp.file("out.safetensors");
    write_inputs(in_path, inputs);
  }
  Tensor expected(ops::Precision p = ops::Precision::FP32) const {
    wan::ForwardOptions o;
    o.precision = p;
    return wan::wan_forward(model, inputs, o);
  }
};

TEST(RunModel, FloatComponentMatchesInProcessForward) {
  Fixture f(TinySpec{});
  const RunResult r = run_qdit(f.tmp, {"run", f.model_dir, "--inputs", f.in_path, "--output", f.out_path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Tensor out = read_noise_pred(f.out_path);
  EXPECT_EQ(out.shape(), (Shape{4, 3, 4, 6}));
  EXPECT_EQ(out.dtype(), DType::F32);
  EXPECT_LT(rel_l2(out, f.expected()), 1e-6);
  EXPECT_NE(r.out.find("noise_pred [4, 3, 4, 6]"), std::string::npos) << r.out;
}

TEST(RunModel, QuantizedRepackedCheckpointMatchesInProcessForward) {
  TinySpec spec;
  spec.quantized = true;
  spec.seed = 5;
  Fixture f(spec);
  ASSERT_EQ(f.model.blocks[0].self_out.scheme, SchemeId::W8A8);
  ASSERT_EQ(f.model.blocks[1].ffn_up.scheme, SchemeId::W8A8Dynamic);
  const RunResult r = run_qdit(f.tmp, {"run", f.model_dir, "--inputs", f.in_path, "--output", f.out_path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(rel_l2(read_noise_pred(f.out_path), f.expected()), 1e-6);
}

TEST(RunModel, Bf16PrecisionIsCloseButNotIdentical) {
  Fixture f(TinySpec{});
  const RunResult r =
      run_qdit(f.tmp, {"run", f.model_dir, "--inputs", f.in_path, "--output", f.out_path, "--precision", "bf16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Tensor out = read_noise_pred(f.out_path);
  EXPECT_LT(rel_l2(out, f.expected(ops::Precision::BF16)), 1e-6);
  const double vs_fp32 = rel_l2(out, f.expected());
  EXPECT_GT(vs_fp32, 1e-5);
  EXPECT_LT(vs_fp32, 1e-2);
}

TEST(RunModel, JsonSummaryAndThreads) {
  Fixture f(TinySpec{});
  const RunResult r =
      run_qdit(f.tmp, {"run", f.model_dir, "--inputs", f.in_path, "--output", f.out_path, "--json", "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["device"], "cpu");
  EXPECT_EQ(j["precision"], "fp32");
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["component"], "transformer");
  EXPECT_EQ(j["shape"], nlohmann::json({4, 3, 4, 6}));
  EXPECT_GT(j["seconds"]["forward"].get<double>(), 0.0);
  EXPECT_LT(rel_l2(read_noise_pred(f.out_path), f.expected()), 1e-6);
}

// Equivalent spellings of the same inputs give the same output: a leading batch dimension of 1, an i64 timestep,
// and per-token timesteps that are all equal.
TEST(RunModel, EquivalentInputFormsGiveTheSameOutput) {
  Fixture f(TinySpec{});
  ASSERT_EQ(run_qdit(f.tmp, {"run", f.model_dir, "--inputs", f.in_path, "--output", f.out_path}).exit_code, 0);
  const Tensor base = read_noise_pred(f.out_path);

  Tensor t64 = Tensor::empty({1}, DType::I64);
  t64.data<int64_t>()[0] = 917;
  Tensor per_token = Tensor::empty({18}, DType::F32);
  for (int i = 0; i < 18; ++i) per_token.data<float>()[i] = 917.0f;
  const Shape batched{1, 4, 3, 4, 6};
  const std::vector<std::vector<std::pair<std::string, Tensor>>> forms = {
      {{"hidden_states", f.inputs.hidden_states.reshape(batched)},
       {"timestep", f.inputs.timestep},
       {"encoder_hidden_states", f.inputs.encoder_hidden_states}},
      {{"hidden_states", f.inputs.hidden_states},
       {"timestep", t64},
       {"encoder_hidden_states", f.inputs.encoder_hidden_states}},
      {{"hidden_states", f.inputs.hidden_states},
       {"timestep", per_token},
       {"encoder_hidden_states", f.inputs.encoder_hidden_states}},
  };
  for (size_t i = 0; i < forms.size(); ++i) {
    const std::string in = f.tmp.file("form" + std::to_string(i) + ".safetensors");
    write_safetensors(in, forms[i]);
    const RunResult r = run_qdit(f.tmp, {"run", f.model_dir, "--inputs", in, "--output", f.out_path});
    ASSERT_EQ(r.exit_code, 0) << "form " << i << ": " << r.err;
    EXPECT_EQ(rel_l2(read_noise_pred(f.out_path), base), 0.0) << "form " << i;
  }
}

// A pipeline tree: --component picks the expert, `transformer` by default.
TEST(RunModel, PipelineTreeComponents) {
  test::TempDir tmp;
  TinySpec high, low;
  high.seed = 11, low.seed = 12;
  std::filesystem::create_directories(tmp.path() + "/tree/transformer");
  std::filesystem::create_directories(tmp.path() + "/tree/transformer_2");
  const wan::WanWeights w_high = write_component(tmp.path() + "/tree/transformer", high);
  const wan::WanWeights w_low = write_component(tmp.path() + "/tree/transformer_2", low);
  test::write_json(tmp.file("tree/model_index.json"), {{"_class_name", "WanPipeline"},
                                                       {"transformer", {"diffusers", "WanTransformer3DModel"}},
                                                       {"transformer_2", {"diffusers", "WanTransformer3DModel"}}});
  const wan::WanInputs in = make_inputs(w_high.config, 3);
  const std::string in_path = tmp.file("in.safetensors"), out = tmp.file("out.safetensors");
  write_inputs(in_path, in);
  const std::string tree = tmp.path() + "/tree";

  ASSERT_EQ(run_qdit(tmp, {"run", tree, "--inputs", in_path, "--output", out}).exit_code, 0);
  EXPECT_LT(rel_l2(read_noise_pred(out), wan::wan_forward(w_high, in, {})), 1e-6);
  const RunResult r =
      run_qdit(tmp, {"run", tree, "--inputs", in_path, "--output", out, "--component", "transformer_2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(rel_l2(read_noise_pred(out), wan::wan_forward(w_low, in, {})), 1e-6);
  const RunResult bad = run_qdit(tmp, {"run", tree, "--inputs", in_path, "--output", out, "--component", "vae"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("transformer_2"), std::string::npos) << bad.err;  // lists what exists
}

// The observer's layer names (what calibration keys its ranges by) are the loader's runtime names, layer for
// layer, for a model with and without the I2V image branch.
TEST(RunModel, ObserverNamesAreTheLoadersRuntimeNames) {
  test::TempDir tmp;
  const RunResult r = run_qdit(tmp, {"synth", "--variant", "wan2.1-i2v-14b", "--layers", "2", "--dim", "256", "--heads",
                                     "2", "--ffn", "512", "--out", tmp.path() + "/i2v"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::filesystem::create_directories(tmp.path() + "/t2v");
  write_component(tmp.path() + "/t2v", TinySpec{});
  for (const char* dir : {"/i2v", "/t2v"}) {
    const std::vector<load::ComponentPlan> plans = load::plan_checkpoint(tmp.path() + dir);
    ASSERT_EQ(plans.size(), 1u);
    ASSERT_TRUE(plans[0].ok()) << dir;
    std::set<std::string> planned;
    for (const load::LinearPlan& l : plans[0].linears) planned.insert(l.runtime);
    const std::vector<std::string> observed = wan::runtime_layer_names(plans[0].config);
    EXPECT_EQ(planned, std::set<std::string>(observed.begin(), observed.end())) << dir;
    EXPECT_EQ(planned.size(), observed.size()) << dir;
  }
}

}  // namespace
}  // namespace qdit::runtest
