// The reference runtime's Wan rules (loading.md §2 table, Diffusers -> reference runtime, plus the later drop
// rule) run through qdit's engine must do exactly what the table says, and the hand-written inverse must
// round-trip every Diffusers name of a Wan I2V model, with every quantization suffix.
#include <gtest/gtest.h>

#include "qdit/names/name_map.h"

namespace qdit {
namespace {

NameMap reference_forward() {
  return NameMap({
      {R"(^patch_embedding\.(.*)$)", R"(patch_embedding.proj.\1)"},                                      // 1
      {R"(^condition_embedder\.text_embedder\.linear_1\.(.*)$)", R"(condition_embedder.text_embedder.fc_in.\1)"},
      {R"(^condition_embedder\.text_embedder\.linear_2\.(.*)$)", R"(condition_embedder.text_embedder.fc_out.\1)"},
      {R"(^condition_embedder\.time_embedder\.linear_1\.(.*)$)",
       R"(condition_embedder.time_embedder.mlp.fc_in.\1)"},                                               // 4
      {R"(^condition_embedder\.time_embedder\.linear_2\.(.*)$)",
       R"(condition_embedder.time_embedder.mlp.fc_out.\1)"},                                              // 5
      {R"(^condition_embedder\.time_proj\.(.*)$)", R"(condition_embedder.time_modulation.linear.\1)"},   // 6
      {R"(^condition_embedder\.image_embedder\.ff\.net\.0\.proj\.(.*)$)",
       R"(condition_embedder.image_embedder.ff.fc_in.\1)"},                                               // 7
      {R"(^condition_embedder\.image_embedder\.ff\.net\.2\.(.*)$)",
       R"(condition_embedder.image_embedder.ff.fc_out.\1)"},                                              // 8
      {R"(^blocks\.(\d+)\.attn1\.to_q\.(.*)$)", R"(blocks.\1.to_q.\2)"},                                 // 9
      {R"(^blocks\.(\d+)\.attn1\.to_k\.(.*)$)", R"(blocks.\1.to_k.\2)"},                                 // 10
      {R"(^blocks\.(\d+)\.attn1\.to_v\.(.*)$)", R"(blocks.\1.to_v.\2)"},                                 // 11
      {R"(^blocks\.(\d+)\.attn1\.to_out\.0\.(.*)$)", R"(blocks.\1.to_out.\2)"},                          // 12
      {R"(^blocks\.(\d+)\.attn1\.norm_q\.(.*)$)", R"(blocks.\1.norm_q.\2)"},                             // 13
      {R"(^blocks\.(\d+)\.attn1\.norm_k\.(.*)$)", R"(blocks.\1.norm_k.\2)"},                             // 14
      {R"(^blocks\.(\d+)\.attn1\.attn_op\.local_attn\.proj_l\.(.*)$)", R"(blocks.\1.attn1.local_attn.proj_l.\2)"},
      {R"(^blocks\.(\d+)\.attn2\.to_out\.0\.(.*)$)", R"(blocks.\1.attn2.to_out.\2)"},                    // 16
      {R"(^blocks\.(\d+)\.ffn\.net\.0\.proj\.(.*)$)", R"(blocks.\1.ffn.fc_in.\2)"},                      // 17
      {R"(^blocks\.(\d+)\.ffn\.net\.2\.(.*)$)", R"(blocks.\1.ffn.fc_out.\2)"},                           // 18
      {R"(^blocks\.(\d+)\.norm2\.(.*)$)", R"(blocks.\1.self_attn_residual_norm.norm.\2)"},               // 19
      {R"(^blocks\.(\d+)\.attn2\.norm_added_q\.(.*)$)", ""},                                             // later
  });
}

// The exact inverse of rules 1-19, written by hand as the reference does.
NameMap reference_reverse() {
  return NameMap({
      {R"(^patch_embedding\.proj\.(.*)$)", R"(patch_embedding.\1)"},
      {R"(^condition_embedder\.text_embedder\.fc_in\.(.*)$)", R"(condition_embedder.text_embedder.linear_1.\1)"},
      {R"(^condition_embedder\.text_embedder\.fc_out\.(.*)$)", R"(condition_embedder.text_embedder.linear_2.\1)"},
      {R"(^condition_embedder\.time_embedder\.mlp\.fc_in\.(.*)$)",
       R"(condition_embedder.time_embedder.linear_1.\1)"},
      {R"(^condition_embedder\.time_embedder\.mlp\.fc_out\.(.*)$)",
       R"(condition_embedder.time_embedder.linear_2.\1)"},
      {R"(^condition_embedder\.time_modulation\.linear\.(.*)$)", R"(condition_embedder.time_proj.\1)"},
      {R"(^condition_embedder\.image_embedder\.ff\.fc_in\.(.*)$)",
       R"(condition_embedder.image_embedder.ff.net.0.proj.\1)"},
      {R"(^condition_embedder\.image_embedder\.ff\.fc_out\.(.*)$)",
       R"(condition_embedder.image_embedder.ff.net.2.\1)"},
      {R"(^blocks\.(\d+)\.to_q\.(.*)$)", R"(blocks.\1.attn1.to_q.\2)"},
      {R"(^blocks\.(\d+)\.to_k\.(.*)$)", R"(blocks.\1.attn1.to_k.\2)"},
      {R"(^blocks\.(\d+)\.to_v\.(.*)$)", R"(blocks.\1.attn1.to_v.\2)"},
      {R"(^blocks\.(\d+)\.to_out\.(.*)$)", R"(blocks.\1.attn1.to_out.0.\2)"},
      {R"(^blocks\.(\d+)\.norm_q\.(.*)$)", R"(blocks.\1.attn1.norm_q.\2)"},
      {R"(^blocks\.(\d+)\.norm_k\.(.*)$)", R"(blocks.\1.attn1.norm_k.\2)"},
      {R"(^blocks\.(\d+)\.attn1\.local_attn\.proj_l\.(.*)$)", R"(blocks.\1.attn1.attn_op.local_attn.proj_l.\2)"},
      {R"(^blocks\.(\d+)\.attn2\.to_out\.(.*)$)", R"(blocks.\1.attn2.to_out.0.\2)"},
      {R"(^blocks\.(\d+)\.ffn\.fc_in\.(.*)$)", R"(blocks.\1.ffn.net.0.proj.\2)"},
      {R"(^blocks\.(\d+)\.ffn\.fc_out\.(.*)$)", R"(blocks.\1.ffn.net.2.\2)"},
      {R"(^blocks\.(\d+)\.self_attn_residual_norm\.norm\.(.*)$)", R"(blocks.\1.norm2.\2)"},
  });
}

const char* const kQuantSuffixes[] = {"weight",       "bias",        "weight_scale", "weight_offset",
                                      "input_scale",  "input_offset", "quant_bias",  "deq_scale"};

struct Case {
  const char* diffusers;
  const char* runtime;
};

TEST(ReferenceRules, EachTableRowRenamesAsSpecifiedWithEverySuffix) {
  const Case cases[] = {
      {"patch_embedding", "patch_embedding.proj"},
      {"condition_embedder.text_embedder.linear_1", "condition_embedder.text_embedder.fc_in"},
      {"condition_embedder.text_embedder.linear_2", "condition_embedder.text_embedder.fc_out"},
      {"condition_embedder.time_embedder.linear_1", "condition_embedder.time_embedder.mlp.fc_in"},
      {"condition_embedder.time_embedder.linear_2", "condition_embedder.time_embedder.mlp.fc_out"},
      {"condition_embedder.time_proj", "condition_embedder.time_modulation.linear"},
      {"condition_embedder.image_embedder.ff.net.0.proj", "condition_embedder.image_embedder.ff.fc_in"},
      {"condition_embedder.image_embedder.ff.net.2", "condition_embedder.image_embedder.ff.fc_out"},
      {"blocks.0.attn1.to_q", "blocks.0.to_q"},
      {"blocks.17.attn1.to_k", "blocks.17.to_k"},
      {"blocks.39.attn1.to_v", "blocks.39.to_v"},
      {"blocks.5.attn1.to_out.0", "blocks.5.to_out"},
      {"blocks.5.attn1.norm_q", "blocks.5.norm_q"},
      {"blocks.5.attn1.norm_k", "blocks.5.norm_k"},
      {"blocks.2.attn1.attn_op.local_attn.proj_l", "blocks.2.attn1.local_attn.proj_l"},
      {"blocks.8.attn2.to_out.0", "blocks.8.attn2.to_out"},
      {"blocks.8.ffn.net.0.proj", "blocks.8.ffn.fc_in"},
      {"blocks.8.ffn.net.2", "blocks.8.ffn.fc_out"},
      {"blocks.8.norm2", "blocks.8.self_attn_residual_norm.norm"},
  };
  NameMap fwd = reference_forward();
  for (const Case& c : cases) {
    for (const char* suffix : kQuantSuffixes) {
      const std::string in = std::string(c.diffusers) + "." + suffix;
      MappedName m = fwd.map(in);
      EXPECT_EQ(m.name, std::string(c.runtime) + "." + suffix) << in;
      EXPECT_FALSE(m.dropped) << in;
      EXPECT_EQ(m.merge_index, -1) << in;  // Wan uses no triples in the reference
    }
  }
}

TEST(ReferenceRules, NamesTheTableLeavesAloneStayTheSame) {
  NameMap fwd = reference_forward();
  const char* unchanged[] = {"blocks.3.attn2.to_q",        "blocks.3.attn2.to_k",     "blocks.3.attn2.to_v",
                             "blocks.3.attn2.norm_q",      "blocks.3.attn2.norm_k",   "blocks.3.attn2.add_k_proj",
                             "blocks.3.attn2.add_v_proj",  "blocks.3.attn2.norm_added_k",
                             "proj_out",                   "condition_embedder.image_embedder.norm1",
                             "condition_embedder.image_embedder.norm2"};
  for (const char* layer : unchanged) {
    for (const char* suffix : kQuantSuffixes) {
      const std::string in = std::string(layer) + "." + suffix;
      EXPECT_EQ(fwd.map(in).name, in);
    }
  }
  EXPECT_EQ(fwd.map("blocks.3.scale_shift_table").name, "blocks.3.scale_shift_table");
  EXPECT_EQ(fwd.map("scale_shift_table").name, "scale_shift_table");
}

TEST(ReferenceRules, NormAddedQIsDropped) {
  MappedName m = reference_forward().map("blocks.1.attn2.norm_added_q.weight");
  EXPECT_TRUE(m.dropped);
}

TEST(ReferenceRules, HandWrittenInverseRoundTripsEveryWanI2VName) {
  std::vector<std::string> names = {"scale_shift_table", "blocks.0.scale_shift_table",
                                    "blocks.12.scale_shift_table"};
  const char* top_layers[] = {"patch_embedding",
                              "condition_embedder.time_embedder.linear_1",
                              "condition_embedder.time_embedder.linear_2",
                              "condition_embedder.time_proj",
                              "condition_embedder.text_embedder.linear_1",
                              "condition_embedder.text_embedder.linear_2",
                              "condition_embedder.image_embedder.norm1",
                              "condition_embedder.image_embedder.ff.net.0.proj",
                              "condition_embedder.image_embedder.ff.net.2",
                              "condition_embedder.image_embedder.norm2",
                              "proj_out"};
  const char* block_layers[] = {"attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out.0", "attn1.norm_q",
                                "attn1.norm_k", "norm2", "attn2.to_q", "attn2.to_k", "attn2.to_v",
                                "attn2.to_out.0", "attn2.norm_q", "attn2.norm_k", "attn2.add_k_proj",
                                "attn2.add_v_proj", "attn2.norm_added_k", "ffn.net.0.proj", "ffn.net.2"};
  for (const char* suffix : kQuantSuffixes) {
    for (const char* l : top_layers) names.push_back(std::string(l) + "." + suffix);
    for (int b : {0, 9, 39}) {
      for (const char* l : block_layers) {
        names.push_back("blocks." + std::to_string(b) + "." + l + "." + suffix);
      }
    }
  }
  EXPECT_EQ(round_trip_failures(reference_forward(), reference_reverse(), names), std::vector<std::string>{});
}

}  // namespace
}  // namespace qdit
