// `qdit synth` through the built binary: exit codes, what it writes, and quiet output when stderr is no terminal.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/run_test_fixture.h"
#include "qdit/load/plan.h"

namespace qdit {
namespace {

namespace fs = std::filesystem;
using runtest::run_qdit;

const std::vector<std::string> kTiny = {"--layers", "1", "--dim", "64", "--heads", "2", "--ffn", "96"};

std::vector<std::string> args(std::vector<std::string> a, bool tiny = true) {
  if (tiny) a.insert(a.end(), kTiny.begin(), kTiny.end());
  return a;
}

TEST(SynthCli, WritesACheckpointThatPlansCleanly) {
  test::TempDir tmp;
  const std::string out = tmp.path() + "/m";
  auto r = run_qdit(tmp, args({"synth", "--variant", "wan2.1-t2v-1.3b", "--seed", "3", "--out", out}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote"), std::string::npos);
  EXPECT_EQ(r.err, "");  // no progress bar when stderr is not a terminal
  EXPECT_TRUE(fs::exists(out + "/config.json"));
  const auto plans = load::plan_checkpoint(out);
  ASSERT_EQ(plans.size(), 1u);
  EXPECT_TRUE(plans[0].ok());
  EXPECT_EQ(plans[0].config.num_layers, 1);
  r = run_qdit(tmp, args({"synth", "--variant", "wan2.1-t2v-1.3b", "--out", out}));
  EXPECT_EQ(r.exit_code, 2) << "an existing checkpoint folder is never written over";
  EXPECT_NE(r.err.find("not empty"), std::string::npos) << r.err;
  // bf16 by default, like the released checkpoints.
  EXPECT_EQ(plans[0].linears.front().shards.front().weight_dtype, DType::BF16);
}

TEST(SynthCli, InputsOnlyAndNativeTree) {
  test::TempDir tmp;
  auto r = run_qdit(tmp, args({"synth", "--variant", "wan2.1-t2v-1.3b", "--inputs", tmp.path() + "/in.safetensors",
                               "--latent", "1x4x6", "--text-tokens", "5"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = SafetensorsFile::open(tmp.path() + "/in.safetensors");
  EXPECT_EQ(f->find("hidden_states")->shape, (Shape{16, 1, 4, 6}));
  EXPECT_EQ(f->find("encoder_hidden_states")->shape, (Shape{5, 4096}));
  r = run_qdit(tmp, args({"synth", "--variant", "wan2.2-t2v-a14b", "--names", "native", "--dtype", "f16", "--out",
                          tmp.path() + "/tree"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(tmp.path() + "/tree/high_noise_model/config.json"));
  EXPECT_TRUE(fs::exists(tmp.path() + "/tree/low_noise_model/diffusion_pytorch_model.safetensors"));
}

TEST(SynthCli, BadUsageExitsTwoWithAReason) {
  test::TempDir tmp;
  const std::string out = tmp.path() + "/m";
  struct Case {
    std::vector<std::string> a;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"synth", "--out", out}, "--variant"},
      {{"synth", "--variant", "wan9", "--out", out}, "wan9"},
      {{"synth", "--variant", "wan2.1-t2v-1.3b", "--dtype", "int8", "--out", out}, "int8"},
      {{"synth", "--variant", "wan2.1-t2v-1.3b", "--names", "comfy", "--out", out}, "comfy"},
      {{"synth", "--variant", "wan2.1-t2v-1.3b", "--dim", "100", "--out", out}, "--dim"},
      {{"synth", "--variant", "wan2.1-t2v-1.3b", "--dim", "64", "--heads", "3", "--out", out}, "head dim"},
      {{"synth", "--variant", "wan2.1-t2v-1.3b", "--frobnicate", "--out", out}, "frobnicate"},
      {{"synth", "--variant", "wan2.1-t2v-1.3b"}, "--out"},
      {{"synth", "--variant", "wan2.1-t2v-1.3b", "--inputs", out, "--latent", "2x3x4"}, "patch"},
  };
  for (const auto& c : cases) {
    auto r = run_qdit(tmp, c.a);
    EXPECT_EQ(r.exit_code, 2) << c.says << "\n" << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(out + "/diffusion_pytorch_model.safetensors"));
  auto h = run_qdit(tmp, {"synth", "--help"});
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.out.find("--variant"), std::string::npos);
}

}  // namespace
}  // namespace qdit
