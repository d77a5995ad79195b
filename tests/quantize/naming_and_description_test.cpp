// File names per layout, --exclude globs and the description JSON.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "qdit/core/error.h"
#include "qdit/quantize/description_writer.h"
#include "qdit/quantize/exclude_globs.h"
#include "qdit/quantize/output_layout.h"

namespace qdit::quantize {
namespace {

TEST(OutputLayout, FileNamesFollowEachSaver) {
  EXPECT_EQ(description_file_name(OutputLayout::AscendV1, "W8A8_DYNAMIC"), "quant_model_description.json");
  EXPECT_EQ(weights_file_name(OutputLayout::AscendV1, "W8A8_DYNAMIC"), "quant_model_weights.safetensors");
  EXPECT_EQ(description_file_name(OutputLayout::MindIE, "W8A8_DYNAMIC"), "quant_model_description_w8a8_dynamic.json");
  EXPECT_EQ(weights_file_name(OutputLayout::MindIE, "W8A8"), "quant_model_weight_w8a8.safetensors");
  EXPECT_EQ(description_file_name(OutputLayout::Repacked, "W4A4_DYNAMIC"), "quant_model_description.json");
  EXPECT_EQ(weights_file_name(OutputLayout::Repacked, "W4A4_DYNAMIC"), "diffusion_pytorch_model.safetensors");
}

TEST(OutputLayout, DeqScaleDtypeRule) {
  EXPECT_TRUE(deq_scale_as_int64(OutputLayout::AscendV1, false));
  EXPECT_FALSE(deq_scale_as_int64(OutputLayout::AscendV1, true));
  EXPECT_TRUE(deq_scale_as_int64(OutputLayout::Repacked, false));
  EXPECT_FALSE(deq_scale_as_int64(OutputLayout::MindIE, false));  // MindIE-format always writes float32
  EXPECT_FALSE(writes_ascendv1_metadata(OutputLayout::MindIE));
  EXPECT_TRUE(writes_ascendv1_metadata(OutputLayout::AscendV1));
}

TEST(OutputLayout, ParsingRejectsUnknownValuesAsUsageErrors) {
  EXPECT_EQ(parse_output_layout("mindie"), OutputLayout::MindIE);
  EXPECT_EQ(parse_name_space("native"), NameSpace::Native);
  try {
    parse_output_layout("ascend");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("ascendv1, mindie or repacked"), std::string::npos);
  }
  EXPECT_THROW(parse_name_space("wan"), Error);
  EXPECT_EQ(component_folder(NameSpace::Diffusers, 1), "transformer_2");
  EXPECT_EQ(component_folder(NameSpace::Native, 0), "high_noise_model");
}

TEST(ExcludeGlobs, MsModelSlimWanRecipeMatchesOnlyTheFfnDownProjection) {
  ExcludeGlobs g({"*ffn.net.2*"});
  EXPECT_TRUE(g.excludes("blocks.0.ffn.net.2"));
  EXPECT_TRUE(g.excludes("blocks.29.ffn.net.2"));
  EXPECT_FALSE(g.excludes("blocks.0.ffn.net.0.proj"));
  EXPECT_FALSE(g.excludes("blocks.2.attn1.to_q"));
  EXPECT_TRUE(g.unused().empty());
}

TEST(ExcludeGlobs, MatchesWithOrWithoutWeightSuffixAndReportsUnused) {
  ExcludeGlobs g({"blocks.1.attn1.to_q.weight", "proj_out", "blocks.?.attn2.*", "*nothing*"});
  EXPECT_TRUE(g.excludes("blocks.1.attn1.to_q"));
  EXPECT_FALSE(g.excludes("blocks.11.attn1.to_q"));
  EXPECT_TRUE(g.excludes("proj_out"));
  EXPECT_TRUE(g.excludes("blocks.3.attn2.to_out.0"));
  EXPECT_FALSE(g.excludes("blocks.13.attn2.to_out.0"));
  EXPECT_EQ(g.unused(), std::vector<std::string>{"*nothing*"});
  EXPECT_THROW(ExcludeGlobs({""}), Error);
}

TEST(DescriptionWriter, AscendV1KeysAndEveryTensorInOrder) {
  DescriptionWriter d;
  d.add("blocks.0.attn1.to_q.weight", "W8A8");
  d.add("blocks.0.attn1.to_q.bias", "FLOAT");
  d.add("blocks.0.attn1.to_q.deq_scale", "W8A8");
  d.add("blocks.0.ffn.net.2.weight", "FLOAT");
  d.add("blocks.0.ffn.net.0.proj.weight", "W8A8_DYNAMIC");
  EXPECT_EQ(d.model_quant_type(), "W8A8");  // W8A8 outranks W8A8_DYNAMIC in the AscendV1 priority list
  const std::string text = d.to_json_text(true);
  auto j = nlohmann::ordered_json::parse(text);
  EXPECT_EQ(j["model_quant_type"], "W8A8");
  EXPECT_EQ(j["version"], "1.0.0");
  EXPECT_EQ(j["group_size"], 0);
  EXPECT_TRUE(j["metadata"].is_object());
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  const std::vector<std::string> want = {"model_quant_type", "version", "group_size", "metadata",
                                         "blocks.0.attn1.to_q.weight", "blocks.0.attn1.to_q.bias",
                                         "blocks.0.attn1.to_q.deq_scale", "blocks.0.ffn.net.2.weight",
                                         "blocks.0.ffn.net.0.proj.weight"};
  EXPECT_EQ(keys, want);
  EXPECT_EQ(j["blocks.0.attn1.to_q.bias"], "FLOAT");
}

TEST(DescriptionWriter, MindIEStyleHasNoVersionAndTypePriority) {
  DescriptionWriter d;
  d.add("a.weight", "W8A16");
  d.add("b.weight", "FLOAT");
  EXPECT_EQ(d.model_quant_type(), "W8A16");
  auto j = nlohmann::json::parse(d.to_json_text(false));
  EXPECT_FALSE(j.contains("version"));
  EXPECT_FALSE(j.contains("group_size"));
  EXPECT_EQ(j.size(), 3u);
  d.add("c.weight", "W4A4_DYNAMIC");
  EXPECT_EQ(d.model_quant_type(), "W4A4_DYNAMIC");
  EXPECT_THROW(d.add("a.weight", "W8A16"), Error);
  EXPECT_THROW(d.add("d.weight", "W9A9"), Error);
  DescriptionWriter empty;
  EXPECT_EQ(empty.model_quant_type(), "FLOAT");
}

}  // namespace
}  // namespace qdit::quantize
