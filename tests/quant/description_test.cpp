#include "qdit/quant/description.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "qdit/core/error.h"

namespace qdit::quant {
namespace {

Error parse_error_of(const std::string& text) {
  try {
    parse_description_text(text, "/ckpt/quant_model_description.json");
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error for: " << text;
  return Error(ErrorKind::Internal, "none");
}

TEST(Description, SplitsMetadataFromTensorEntries) {
  const std::string text = R"({
    "model_quant_type": "W8A8_DYNAMIC", "version": "1.0.0", "group_size": 0,
    "kv_cache_type": "C8", "kv_quant_type": "C8", "fa_quant_type": "FAQuant", "indexer_quant_type": "INT8_DYNAMIC",
    "reduce_quant_type": "per_channel", "metadata": {"quarot": {}}, "optional": {"quarot": {}},
    "is_rot_used": true, "model_quant_type_second": "W4A8_DYNAMIC", "kv_cache_type_second": "C8",
    "ignore": ["proj_out"], "packed_modules_mapping": {"qkv": ["q", "k", "v"]},
    "blocks.0.attn1.quant_type": "INT8", "blocks.0.attn1.indexer.quant_type": "INT8",
    "blocks.0.attn1.to_q.weight": "W8A8_DYNAMIC", "blocks.0.attn1.to_q.weight_scale": "W8A8_DYNAMIC",
    "blocks.0.attn1.to_q.bias": "FLOAT", "max_supported_tp": 4
  })";
  Description d = parse_description_text(text, "x.json");
  EXPECT_EQ(d.model_quant_type, "W8A8_DYNAMIC");
  ASSERT_TRUE(d.version.has_value());
  EXPECT_TRUE(d.is_version_1());
  EXPECT_EQ(d.group_size, 0);
  EXPECT_EQ(d.entries.size(), 3u);
  EXPECT_EQ(*d.type_of("blocks.0.attn1.to_q.weight"), "W8A8_DYNAMIC");
  EXPECT_EQ(*d.type_of("blocks.0.attn1.to_q.bias"), "FLOAT");
  EXPECT_EQ(d.type_of("blocks.0.attn1.to_k.weight"), nullptr);
  // 21 keys in all, 3 of them tensors.
  EXPECT_EQ(d.metadata.size(), 18u);
  EXPECT_EQ(d.metadata.at("kv_cache_type"), "\"C8\"");
  EXPECT_EQ(d.metadata.at("is_rot_used"), "true");
  EXPECT_EQ(d.metadata.at("ignore"), "[\"proj_out\"]");
  EXPECT_TRUE(d.metadata.count("blocks.0.attn1.quant_type"));
  EXPECT_TRUE(d.metadata.count("blocks.0.attn1.indexer.quant_type"));
}

TEST(Description, GroupSizeAsIntOrString) {
  EXPECT_EQ(parse_description_text(R"({"group_size": 256})", "f").group_size, 256);
  EXPECT_EQ(parse_description_text(R"({"group_size": "256"})", "f").group_size, 256);
  EXPECT_EQ(parse_description_text(R"({"model_quant_type": "W8A8"})", "f").group_size, 0);
  for (const char* bad : {R"({"group_size": -1})", R"({"group_size": "12a"})", R"({"group_size": 1.5})",
                          R"({"group_size": ""})", R"({"group_size": null})", R"({"group_size": "99999999999999999999"})"}) {
    Error e = parse_error_of(bad);
    EXPECT_EQ(e.kind(), ErrorKind::Checkpoint) << bad;
    EXPECT_EQ(e.context().tensor, "group_size") << bad;
  }
}

TEST(Description, NoVersionMeansLegacy) {
  Description d = parse_description_text(R"({"model_quant_type": "W4A8_DYNAMIC"})", "f");
  EXPECT_FALSE(d.version.has_value());
  EXPECT_FALSE(d.is_version_1());
  EXPECT_FALSE(parse_description_text(R"({"version": "0.9"})", "f").is_version_1());
  EXPECT_EQ(parse_error_of(R"({"version": 1})").context().tensor, "version");
  EXPECT_EQ(parse_error_of(R"({"model_quant_type": 3})").context().tensor, "model_quant_type");
}

TEST(Description, InvalidJsonNamesFileLineAndColumn) {
  Error e = parse_error_of("{\n  \"a.weight\": \"W8A8\",\n  \"b.weight\" \"W8A8\"\n}");
  EXPECT_EQ(e.kind(), ErrorKind::Checkpoint);
  EXPECT_EQ(e.context().file, "/ckpt/quant_model_description.json");
  EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("column"), std::string::npos) << e.what();
  EXPECT_EQ(parse_error_of("").kind(), ErrorKind::Checkpoint);
  EXPECT_EQ(parse_error_of("{\"a\": ").kind(), ErrorKind::Checkpoint);
}

// Found by fuzz/description_fuzz: nlohmann rejects a number beyond double range with out_of_range, not
// parse_error, and that exception escaped the parser instead of becoming a qdit::Error.
TEST(Description, NumberBeyondDoubleRangeIsACheckpointError) {
  for (const char* bad : {"7E7777", R"({"group_size": 1e400})", R"({"a.weight": "W8A8", "metadata": [-1E999]})"}) {
    Error e = parse_error_of(bad);
    EXPECT_EQ(e.kind(), ErrorKind::Checkpoint) << bad;
    EXPECT_EQ(e.context().file, "/ckpt/quant_model_description.json") << bad;
    EXPECT_EQ(e.context().expected, "valid JSON") << bad;
    EXPECT_NE(e.context().found.find("number overflow"), std::string::npos) << e.what();
  }
}

// A metadata value nesting millions of levels used to overflow the stack when it was re-serialised with dump().
TEST(Description, NestingBeyondTheBoundIsACheckpointError) {
  const int n = 1'000'000;
  Error e = parse_error_of("{\"metadata\": " + std::string(n, '[') + std::string(n, ']') + "}");
  EXPECT_EQ(e.kind(), ErrorKind::Checkpoint);
  EXPECT_EQ(e.context().file, "/ckpt/quant_model_description.json");
  EXPECT_NE(std::string(e.what()).find("nests deeper"), std::string::npos) << e.what();
  // Real metadata ("optional": {"quarot": {"rotation_map": {...}}}) is far inside the bound and kept verbatim.
  const Description d = parse_description_text(
      R"({"optional": {"quarot": {"rotation_map": {"global_rotation": "optional/quarot.safetensors"}}}})", "f");
  EXPECT_EQ(d.metadata.at("optional"),
            R"({"quarot":{"rotation_map":{"global_rotation":"optional/quarot.safetensors"}}})");
}

TEST(Description, NotAnObject) {
  for (const char* bad : {"[]", "\"W8A8\"", "3", "null"}) {
    Error e = parse_error_of(bad);
    EXPECT_EQ(e.kind(), ErrorKind::Checkpoint);
    EXPECT_EQ(e.context().expected, "a JSON object");
  }
}

TEST(Description, MetadataKeyRules) {
  EXPECT_TRUE(is_metadata_key("model_quant_type"));
  EXPECT_TRUE(is_metadata_key("fa_quant_type"));
  EXPECT_TRUE(is_metadata_key("blocks.3.attn1.quant_type"));
  EXPECT_FALSE(is_metadata_key("blocks.3.attn1.to_q.weight"));
  EXPECT_FALSE(is_metadata_key("quant_type_table"));
}

TEST(Description, FileErrors) {
  try {
    parse_description_file("/nonexistent/dir/quant_model_description.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io);
    EXPECT_EQ(e.context().file, "/nonexistent/dir/quant_model_description.json");
  }
  char tmpl[] = "/tmp/qdit_desc_XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  {
    std::ofstream out(tmpl);
    out << R"({"model_quant_type": "W8A8", "x.weight": "W8A8"})";
  }
  Description d = parse_description_file(tmpl);
  EXPECT_EQ(d.path, tmpl);
  EXPECT_EQ(*d.type_of("x.weight"), "W8A8");
  std::remove(tmpl);
}

}  // namespace
}  // namespace qdit::quant
