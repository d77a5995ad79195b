// `qdit quantize` through the built binary: each layout's files, exit codes 0/1/2 with reasons, warnings on
// stderr, and no progress bar when stderr is not a terminal.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/run_test_fixture.h"
#include "qdit/load/plan.h"

namespace qdit {
namespace {

namespace fs = std::filesystem;
using runtest::run_qdit;

class QuantizeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = tmp_.path() + "/float";
    auto r = run_qdit(tmp_, {"synth", "--variant", "wan2.1-t2v-1.3b", "--layers", "1", "--dim", "64", "--heads", "2",
                             "--ffn", "96", "--out", src_, "--inputs", tmp_.path() + "/calib.safetensors"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  test::TempDir tmp_;
  std::string src_;
};

TEST_F(QuantizeCli, EachLayoutWritesItsFiles) {
  struct Case {
    std::vector<std::string> extra;
    std::string weights, description;
  };
  const std::vector<Case> cases = {
      {{"--scheme", "w8a8_dynamic", "--exclude", "*ffn.net.2*"},
       "quant_model_weights.safetensors", "quant_model_description.json"},
      {{"--scheme", "w8a8", "--calibration", tmp_.path() + "/calib.safetensors", "--layout", "mindie"},
       "quant_model_weight_w8a8.safetensors", "quant_model_description_w8a8.json"},
      {{"--scheme", "w4a4_dynamic", "--layout", "repacked"},
       "diffusion_pytorch_model.safetensors", "quant_model_description.json"},
      {{"--scheme", "w8a16", "--names", "native"}, "quant_model_weights.safetensors", "quant_model_description.json"},
  };
  int i = 0;
  for (const auto& c : cases) {
    const std::string out = tmp_.path() + "/q" + std::to_string(i++);
    std::vector<std::string> a = {"quantize", src_, "--out", out};
    a.insert(a.end(), c.extra.begin(), c.extra.end());
    auto r = run_qdit(tmp_, a);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "") << "quiet when stderr is not a terminal";
    EXPECT_NE(r.out.find(c.weights), std::string::npos) << r.out;
    EXPECT_TRUE(fs::exists(out + "/" + c.weights)) << c.weights;
    EXPECT_TRUE(fs::exists(out + "/" + c.description)) << c.description;
    const auto plans = load::plan_checkpoint(out);
    EXPECT_TRUE(plans.at(0).ok());
  }
}

TEST_F(QuantizeCli, RepeatedOptionsTakeOneValueEach) {
  // Each --exclude takes one glob, so SRC after them is still SRC.
  const std::string out = tmp_.path() + "/q";
  auto r = run_qdit(tmp_, {"quantize", "--exclude", "*ffn.net.2*", "--exclude", "proj_out", src_, "--out", out,
                           "--scheme", "w8a16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto plans = load::plan_checkpoint(out);
  ASSERT_TRUE(plans.at(0).ok());
  for (const auto& l : plans[0].linears) {
    const bool kept = l.runtime == "head.proj" || l.runtime.find("ffn.down") != std::string::npos ||
                      l.runtime.rfind("blocks.", 0) != 0;
    EXPECT_EQ(*l.scheme, kept ? SchemeId::Float : SchemeId::W8A16) << l.runtime;
  }
}

TEST_F(QuantizeCli, ExitCodesAndReasons) {
  struct Case {
    std::vector<std::string> a;
    int code;
    std::string says;
  };
  const std::string out = tmp_.path() + "/q";
  const std::vector<Case> cases = {
      {{"quantize", src_, "--out", out, "--scheme", "w8a8"}, 2, "--calibration"},
      {{"quantize", src_, "--out", out, "--scheme", "int8"}, 2, "int8"},
      {{"quantize", src_, "--out", out}, 2, "--scheme"},
      {{"quantize", src_, "--out", out, "--scheme", "w8a16", "--layout", "gguf"}, 2, "gguf"},
      {{"quantize", src_, "--out", out, "--scheme", "w8a16", "--layout", "repacked", "--names", "native"}, 2,
       "repacked"},
      {{"quantize", src_, "--out", out, "--scheme", "w8a16", "--calibration", "c.safetensors"}, 2, "--calibration"},
      {{"quantize", tmp_.path() + "/missing", "--out", out, "--scheme", "w8a16"}, 1, "missing"},
      {{"quantize", tmp_.path(), "--out", out, "--scheme", "w8a16"}, 1, "not a recognised checkpoint"},
      {{"quantize", src_, "--out", out, "--scheme", "w8a8", "--calibration", tmp_.path() + "/nope.safetensors"}, 1,
       "nope.safetensors"},
  };
  for (const auto& c : cases) {
    auto r = run_qdit(tmp_, c.a);
    EXPECT_EQ(r.exit_code, c.code) << c.says << "\n" << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
  }
  // Quantizing a quantized checkpoint is a checkpoint problem, and an exclude that matches nothing is a warning.
  auto r = run_qdit(tmp_, {"quantize", src_, "--out", out, "--scheme", "w8a16", "--exclude", "*nothing*"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: --exclude '*nothing*'"), std::string::npos) << r.err;
  // Writing over an existing checkpoint is refused: two layouts in one folder could not be told apart.
  r = run_qdit(tmp_, {"quantize", src_, "--out", out, "--scheme", "w8a16", "--layout", "mindie"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not empty"), std::string::npos) << r.err;
  r = run_qdit(tmp_, {"quantize", out, "--out", tmp_.path() + "/qq", "--scheme", "w8a16"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("already quantized"), std::string::npos) << r.err;
  auto h = run_qdit(tmp_, {"quantize", "--help"});
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.out.find("--layout"), std::string::npos);
}

}  // namespace
}  // namespace qdit
