// `qdit convert` through the built binary: a quantized raw msModelSlim folder to the repacked Diffusers layout
// and back, byte-identical; exit codes for bad usage and bad sources.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/run_test_fixture.h"

namespace qdit {
namespace {

namespace fs = std::filesystem;
using runtest::run_qdit;

TEST(ConvertCli, RawToRepackedAndBack) {
  test::TempDir tmp;
  const std::string src = tmp.path() + "/float", raw = tmp.path() + "/raw";
  ASSERT_EQ(run_qdit(tmp, {"synth", "--variant", "wan2.1-t2v-1.3b", "--layers", "1", "--dim", "64", "--heads", "2",
                           "--ffn", "96", "--out", src})
                .exit_code,
            0);
  ASSERT_EQ(run_qdit(tmp, {"quantize", src, "--out", raw, "--scheme", "w8a8_dynamic", "--layout", "mindie"}).exit_code,
            0);
  auto r = run_qdit(tmp, {"convert", raw, "--out", tmp.path() + "/rep", "--names", "diffusers"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("native -> diffusers"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(tmp.path() + "/rep/quant_model_description.json"));
  r = run_qdit(tmp, {"convert", tmp.path() + "/rep", "--out", tmp.path() + "/back", "--names", "native"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* f : {"quant_model_weight_w8a8_dynamic.safetensors", "quant_model_description_w8a8_dynamic.json"})
    EXPECT_EQ(test::read_text(raw + "/" + f), test::read_text(tmp.path() + "/back/" + f)) << f;
}

TEST(ConvertCli, ExitCodes) {
  test::TempDir tmp;
  auto r = run_qdit(tmp, {"convert", tmp.path(), "--out", tmp.path() + "/o", "--names", "sdxl"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("sdxl"), std::string::npos) << r.err;
  r = run_qdit(tmp, {"convert", tmp.path(), "--out", tmp.path() + "/o"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--names"), std::string::npos) << r.err;
  r = run_qdit(tmp, {"convert", tmp.path() + "/absent", "--out", tmp.path() + "/o", "--names", "native"});
  EXPECT_EQ(r.exit_code, 1);
  r = run_qdit(tmp, {"convert", "--help"});
  EXPECT_EQ(r.exit_code, 0);
}

}  // namespace
}  // namespace qdit
