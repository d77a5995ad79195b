// The report: summary arithmetic checked against sizes computed by hand, JSON fields of issue 2, text lines.
#include "qdit/load/report.h"

#include <gtest/gtest.h>

#include "load/plan_helpers.h"

namespace qdit::test {
namespace {

TEST(Report, SummaryCountsLayersAndBytes) {
  TinyCheckpoint c;
  c.build_float();
  c.quantize_blocks("W8A8_DYNAMIC");
  TempDir dir;
  load::ComponentPlan p = plan_dir(c.write(dir.path()));
  ASSERT_TRUE(p.ok()) << all_problems(p);
  load::PlanSummary s = load::summarize(p);
  EXPECT_EQ(s.layers_per_scheme.at("W8A8_DYNAMIC"), 14);
  EXPECT_EQ(s.layers_per_scheme.at("FLOAT"), 7);
  EXPECT_EQ(s.float_params, 15);
  EXPECT_EQ(s.float_layers.size(), 7u);
  // By hand (D=8, F=16, 2 blocks): int8 weights per block = 8 D*D + 2 D*F = 512 + 256 = 768 bytes.
  EXPECT_EQ(s.bytes_per_dtype.at("I8"), 2u * 768u);
  uint64_t f32 = 0;
  for (const auto& [name, t] : c.tensors)
    if (t.dtype() == DType::F32) f32 += t.nbytes();
  EXPECT_EQ(s.bytes_per_dtype.at("F32"), f32);
  EXPECT_EQ(s.tensors, c.tensors.size());
}

TEST(Report, JsonHasTheIssueFields) {
  TinyCheckpoint c;
  c.build_float();
  c.quantize_blocks("W8A8");
  c.native_names = c.native_description = c.native_config = true;
  c.tensors.erase("blocks.0.ffn.net.2.quant_bias");
  TempDir dir;
  std::vector<load::ComponentPlan> plans;
  plans.push_back(plan_dir(c.write(dir.path())));
  nlohmann::json j = load::plans_to_json(plans);
  EXPECT_EQ(j["ok"], false);
  const auto& comp = j["components"][0];
  for (const char* k : {"name", "path", "architecture", "variant", "layers", "problems", "summary"})
    EXPECT_TRUE(comp.contains(k)) << k;
  const nlohmann::json* down = nullptr;
  for (const auto& l : comp["layers"])
    if (l["name"] == "blocks.1.ffn.down") down = &l;
  ASSERT_NE(down, nullptr);
  EXPECT_EQ((*down)["canonical"], "blocks.1.ffn.net.2");
  EXPECT_EQ((*down)["checkpoint"], "blocks.1.ffn.2");
  EXPECT_EQ((*down)["scheme"], "W8A8");
  EXPECT_EQ((*down)["bias_folded"], true);
  EXPECT_EQ((*down)["weight_shape"], nlohmann::json::array({8, 16}));
  const auto& tensors = (*down)["shards"][0]["tensors"];
  bool deq = false;
  for (const auto& t : tensors)
    if (t["suffix"] == "deq_scale") {
      deq = true;
      EXPECT_EQ(t["name"], "blocks.1.ffn.2.deq_scale");
      EXPECT_EQ(t["dtype"], "I64");
    }
  EXPECT_TRUE(deq);
  // The error, plus a warning that the description still lists the removed tensor.
  ASSERT_EQ(comp["problems"].size(), 2u) << comp["problems"].dump(1);
  const nlohmann::json* err = nullptr;
  for (const auto& x : comp["problems"])
    if (x["severity"] == "error") err = &x;
  ASSERT_NE(err, nullptr);
  const auto& pr = *err;
  EXPECT_EQ(pr["severity"], "error");
  EXPECT_EQ(pr["tensor"], "blocks.0.ffn.2.quant_bias");
  EXPECT_EQ(pr["canonical"], "blocks.0.ffn.net.2.quant_bias");
  EXPECT_EQ(pr["layer"], "blocks.0.ffn.net.2");
  EXPECT_EQ(pr["scheme"], "W8A8");
  EXPECT_NE(pr["message"].get<std::string>().find("blocks.0.ffn.2.quant_bias"), std::string::npos);
}

TEST(Report, TextHasOneLinePerLayerAndTheProblems) {
  TinyCheckpoint c;
  c.build_float();
  c.quantize_blocks("W4A8_DYNAMIC");
  c.tensors["stray"] = scalar_f32(0);
  TempDir dir;
  load::ComponentPlan p = plan_dir(c.write(dir.path()));
  std::string t = load::plan_to_text(p);
  size_t lines = 0;
  for (const auto& l : p.linears)
    if (t.find("  " + l.runtime + " ") != std::string::npos) ++lines;
  EXPECT_EQ(lines, p.linears.size());
  EXPECT_NE(t.find("I8 [4, 8]+[4, 8]+[4, 8]"), std::string::npos) << t;  // packed q|k|v as stored
  EXPECT_NE(t.find("warning: unused tensor"), std::string::npos);
  EXPECT_NE(t.find("0 error(s), 1 warning(s)"), std::string::npos);
}

}  // namespace
}  // namespace qdit::test
