// config.json in both forms: the released files' exact key sets, and every kind of bad input.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "qdit/core/error.h"
#include "qdit/models/wan/config.h"

namespace qdit::wan {
namespace {

using nlohmann::json;

// As published for Wan-AI/Wan2.1-T2V-1.3B-Diffusers (transformer/config.json).
json diffusers_1_3b() {
  return json::parse(R"({
    "_class_name": "WanTransformer3DModel", "_diffusers_version": "0.33.0.dev0",
    "added_kv_proj_dim": null, "attention_head_dim": 128, "cross_attn_norm": true, "eps": 1e-06,
    "ffn_dim": 8960, "freq_dim": 256, "image_dim": null, "in_channels": 16, "num_attention_heads": 12,
    "num_layers": 30, "out_channels": 16, "patch_size": [1, 2, 2], "qk_norm": "rms_norm_across_heads",
    "rope_max_seq_len": 1024, "text_dim": 4096})");
}

json diffusers_i2v_14b() {
  json j = diffusers_1_3b();
  j["num_attention_heads"] = 40;
  j["num_layers"] = 40;
  j["ffn_dim"] = 13824;
  j["in_channels"] = 36;
  j["image_dim"] = 1280;
  j["added_kv_proj_dim"] = 5120;
  return j;
}

// As published for Wan-AI/Wan2.1-T2V-1.3B (config.json of the original repo: no patch_size, no text_dim).
json native_1_3b() {
  return json::parse(R"({
    "_class_name": "WanModel", "_diffusers_version": "0.30.0", "dim": 1536, "eps": 1e-06, "ffn_dim": 8960,
    "freq_dim": 256, "in_dim": 16, "model_type": "t2v", "num_heads": 12, "num_layers": 30, "out_dim": 16,
    "text_len": 512})");
}

json native_i2v_14b() {
  json j = native_1_3b();
  j["dim"] = 5120;
  j["ffn_dim"] = 13824;
  j["num_heads"] = 40;
  j["num_layers"] = 40;
  j["in_dim"] = 36;
  j["model_type"] = "i2v";
  return j;
}

WanConfig parse(const json& j) { return parse_wan_config_text(j.dump(), "/m/transformer/config.json"); }

// Parses and expects a Checkpoint error whose message names the file and every string in `mentions`.
void expect_checkpoint_error(const json& j, std::initializer_list<std::string> mentions) {
  try {
    WanConfig c = parse(j);
    ADD_FAILURE() << "no error for " << j.dump();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Checkpoint) << e.what();
    const std::string what = e.what();
    EXPECT_NE(what.find("/m/transformer/config.json"), std::string::npos) << what;
    for (const std::string& m : mentions) EXPECT_NE(what.find(m), std::string::npos) << "'" << m << "' in " << what;
  }
}

TEST(WanConfigDiffusers, Released1_3B) {
  WanConfig c = parse(diffusers_1_3b());
  EXPECT_EQ(c.variant, "wan2.1-t2v-1.3b");
  EXPECT_EQ(c.dim, 1536);
  EXPECT_EQ(c.num_heads, 12);
  EXPECT_EQ(c.head_dim(), 128);
  EXPECT_EQ(c.ffn_dim, 8960);
  EXPECT_EQ(c.num_layers, 30);
  EXPECT_EQ(c.in_channels, 16);
  EXPECT_EQ(c.out_channels, 16);
  EXPECT_EQ(c.text_dim, 4096);
  EXPECT_EQ(c.freq_dim, 256);
  EXPECT_EQ(c.text_len, 512);
  EXPECT_FLOAT_EQ(c.eps, 1e-6f);
  EXPECT_EQ(c.patch_t, 1);
  EXPECT_EQ(c.patch_h, 2);
  EXPECT_EQ(c.patch_w, 2);
  EXPECT_EQ(c.rope_max_seq_len, 1024);
  EXPECT_FALSE(c.has_image_branch);
  EXPECT_FALSE(c.image_pos_embed);
  EXPECT_EQ(c.model_type, "");
}

TEST(WanConfigDiffusers, I2V14BHasTheImageBranch) {
  WanConfig c = parse(diffusers_i2v_14b());
  EXPECT_TRUE(c.has_image_branch);
  EXPECT_EQ(c.image_dim, 1280);
  EXPECT_EQ(c.image_tokens, 257);
  EXPECT_EQ(c.dim, 5120);
  EXPECT_EQ(c.variant, "wan2.1-i2v-14b");
}

TEST(WanConfigDiffusers, Wan22I2VHasNoImageBranch) {
  json j = diffusers_i2v_14b();
  j["image_dim"] = nullptr;
  j["added_kv_proj_dim"] = nullptr;
  EXPECT_EQ(parse(j).variant, "wan2.2-i2v-a14b");
}

TEST(WanConfigDiffusers, TI2V5B) {
  json j = diffusers_1_3b();
  j["num_attention_heads"] = 24;
  j["ffn_dim"] = 14336;
  j["in_channels"] = 48;
  j["out_channels"] = 48;
  WanConfig c = parse(j);
  EXPECT_EQ(c.dim, 3072);
  EXPECT_EQ(c.variant, "wan2.2-ti2v-5b");
}

TEST(WanConfigDiffusers, FLF2VPositionEmbedding) {
  json j = diffusers_i2v_14b();
  j["pos_embed_seq_len"] = 514;
  WanConfig c = parse(j);
  EXPECT_TRUE(c.image_pos_embed);
  EXPECT_EQ(c.image_tokens, 514);
  EXPECT_EQ(c.variant, "custom");  // not one of the six supported releases
  j["pos_embed_seq_len"] = nullptr;
  EXPECT_FALSE(parse(j).image_pos_embed);
}

TEST(WanConfigDiffusers, TinySizesAreCustom) {
  json j = diffusers_1_3b();
  j["num_attention_heads"] = 2;
  j["attention_head_dim"] = 32;
  j["ffn_dim"] = 96;
  j["num_layers"] = 2;
  WanConfig c = parse(j);
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.variant, "custom");
}

TEST(WanConfigDiffusers, EveryRequiredKeyMissingIsNamed) {
  for (const char* key : {"num_attention_heads", "attention_head_dim", "in_channels", "out_channels", "text_dim",
                          "freq_dim", "ffn_dim", "num_layers", "eps", "patch_size", "rope_max_seq_len", "qk_norm",
                          "cross_attn_norm", "image_dim", "added_kv_proj_dim"}) {
    json j = diffusers_1_3b();
    j.erase(key);
    SCOPED_TRACE(key);
    expect_checkpoint_error(j, {"'" + std::string(key) + "'", "missing"});
  }
}

TEST(WanConfigDiffusers, IllTypedValuesAreNamed) {
  const std::pair<const char*, json> bad[] = {
      {"num_layers", "30"},  {"num_layers", 30.5},     {"num_layers", -1},      {"num_layers", 0},
      {"num_layers", nullptr}, {"ffn_dim", true},      {"eps", "1e-6"},         {"eps", 0.0},
      {"eps", -1e-6},        {"image_dim", "1280"},    {"patch_size", 2},       {"patch_size", json::array({1, 2})},
      {"patch_size", json::array({1, "2", 2})},       {"cross_attn_norm", 1},  {"in_channels", 18446744073709551615ull},
  };
  for (const auto& [key, value] : bad) {
    json j = diffusers_1_3b();
    j[key] = value;
    SCOPED_TRACE(std::string(key) + " = " + value.dump());
    expect_checkpoint_error(j, {"'" + std::string(key) + "'"});
  }
}

TEST(WanConfigDiffusers, UnsupportedValues) {
  json j = diffusers_1_3b();
  j["patch_size"] = json::array({1, 4, 4});
  expect_checkpoint_error(j, {"patch_size", "[1, 2, 2]", "[1,4,4]"});
  j = diffusers_1_3b();
  j["qk_norm"] = "rms_norm";
  expect_checkpoint_error(j, {"qk_norm", "rms_norm_across_heads"});
  j["qk_norm"] = nullptr;
  expect_checkpoint_error(j, {"qk_norm"});
  j = diffusers_1_3b();
  j["cross_attn_norm"] = false;
  expect_checkpoint_error(j, {"cross_attn_norm"});
  j = diffusers_1_3b();
  j["attention_head_dim"] = 127;
  expect_checkpoint_error(j, {"head dim", "127"});
  j = diffusers_1_3b();
  j["freq_dim"] = 255;
  expect_checkpoint_error(j, {"freq_dim", "255"});
}

// Found by fuzz/wan_config_fuzz: num_attention_heads x attention_head_dim, and the schema's size products, were
// computed with signed overflow (undefined behaviour) for huge but positive sizes; eps values that round to 0 or
// infinity in fp32 were accepted as positive.
TEST(WanConfigDiffusers, SizesPast64BitsAndEpsOutsideFp32AreCheckpointErrors) {
  json j = diffusers_1_3b();
  j["num_attention_heads"] = int64_t(1) << 32;
  j["attention_head_dim"] = int64_t(1) << 32;
  expect_checkpoint_error(j, {"'num_attention_heads'", "'attention_head_dim'", "4294967296 x 4294967296"});
  for (const auto& [key, value] : std::vector<std::pair<const char*, int64_t>>{
           {"attention_head_dim", int64_t(1) << 40}, {"out_channels", int64_t(1) << 62},
           {"num_layers", INT64_MAX}, {"text_dim", INT64_MAX / 4}}) {
    j = diffusers_1_3b();
    j[key] = value;
    SCOPED_TRACE(key);
    expect_checkpoint_error(j, {"parameter count overflows 64 bits"});
  }
  // The largest text_dim that still fits parses (the bound is the count, not an arbitrary cap).
  j = diffusers_1_3b();
  j["text_dim"] = INT64_MAX / 1536 / 2;
  EXPECT_EQ(parse(j).text_dim, INT64_MAX / 1536 / 2);
  json native = native_1_3b();
  native["dim"] = int64_t(1) << 62;
  native["num_heads"] = 2;
  expect_checkpoint_error(native, {"parameter count overflows 64 bits"});

  for (double eps : {1e-50, 1e300}) {
    j = diffusers_1_3b();
    j["eps"] = eps;
    expect_checkpoint_error(j, {"'eps'", "representable in fp32"});
    native = native_1_3b();
    native["eps"] = eps;
    expect_checkpoint_error(native, {"'eps'", "representable in fp32"});
  }
  j = diffusers_1_3b();
  j["eps"] = 1e-40;  // an fp32 subnormal: small, but still a positive fp32 value
  EXPECT_GT(parse(j).eps, 0.0f);
}

// A value nesting millions of levels used to overflow the stack when an error message dumped it.
TEST(WanConfigForm, NestingBeyondTheBoundIsACheckpointError) {
  const int n = 1'000'000;
  const std::string text = "{\"num_attention_heads\": " + std::string(n, '[') + std::string(n, ']') + "}";
  try {
    parse_wan_config_text(text, "/m/transformer/config.json");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Checkpoint);
    EXPECT_NE(std::string(e.what()).find("/m/transformer/config.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nests deeper"), std::string::npos) << e.what();
  }
}

TEST(WanConfigDiffusers, InconsistentImageBranch) {
  json j = diffusers_i2v_14b();
  j["added_kv_proj_dim"] = nullptr;
  expect_checkpoint_error(j, {"image_dim", "added_kv_proj_dim"});
  j = diffusers_i2v_14b();
  j["image_dim"] = nullptr;
  expect_checkpoint_error(j, {"image_dim", "added_kv_proj_dim"});
  j = diffusers_i2v_14b();
  j["added_kv_proj_dim"] = 1280;
  expect_checkpoint_error(j, {"added_kv_proj_dim", "5120", "1280"});
  j = diffusers_1_3b();
  j["pos_embed_seq_len"] = 514;
  expect_checkpoint_error(j, {"pos_embed_seq_len"});
}

TEST(WanConfigNative, Released1_3BWithoutOptionalKeys) {
  WanConfig c = parse(native_1_3b());
  EXPECT_EQ(c.variant, "wan2.1-t2v-1.3b");
  EXPECT_EQ(c.dim, 1536);
  EXPECT_EQ(c.num_heads, 12);
  EXPECT_EQ(c.in_channels, 16);
  EXPECT_EQ(c.out_channels, 16);
  EXPECT_EQ(c.text_len, 512);
  EXPECT_EQ(c.text_dim, 4096);  // WanModel's default
  EXPECT_EQ(c.patch_h, 2);      // WanModel's default
  EXPECT_EQ(c.model_type, "t2v");
  EXPECT_FALSE(c.has_image_branch);
}

TEST(WanConfigNative, OptionalKeysWhenPresent) {
  json j = native_1_3b();
  j["patch_size"] = json::array({1, 2, 2});
  j["text_dim"] = 1024;
  j["qk_norm"] = true;
  j["cross_attn_norm"] = true;
  j["window_size"] = json::array({-1, -1});
  WanConfig c = parse(j);
  EXPECT_EQ(c.text_dim, 1024);
  EXPECT_EQ(c.variant, "custom");
  j["window_size"] = json::array({512, 512});
  expect_checkpoint_error(j, {"window_size"});
  j = native_1_3b();
  j["qk_norm"] = false;
  expect_checkpoint_error(j, {"qk_norm"});
  j = native_1_3b();
  j["patch_size"] = json::array({2, 2, 2});
  expect_checkpoint_error(j, {"patch_size"});
}

TEST(WanConfigNative, ModelTypes) {
  WanConfig i2v = parse(native_i2v_14b());
  EXPECT_TRUE(i2v.has_image_branch);
  EXPECT_EQ(i2v.variant, "wan2.1-i2v-14b");
  json j = native_i2v_14b();
  j["model_type"] = "flf2v";
  WanConfig flf = parse(j);
  EXPECT_TRUE(flf.has_image_branch);
  EXPECT_TRUE(flf.image_pos_embed);
  EXPECT_EQ(flf.image_tokens, 514);
  j = native_1_3b();
  j["dim"] = 3072;
  j["num_heads"] = 24;
  j["ffn_dim"] = 14336;
  j["in_dim"] = 48;
  j["out_dim"] = 48;
  j["model_type"] = "ti2v";
  WanConfig ti2v = parse(j);
  EXPECT_FALSE(ti2v.has_image_branch);
  EXPECT_EQ(ti2v.variant, "wan2.2-ti2v-5b");
  j["model_type"] = "s2v";
  expect_checkpoint_error(j, {"model_type", "s2v"});
}

TEST(WanConfigNative, EveryRequiredKeyMissingIsNamed) {
  for (const char* key : {"dim", "ffn_dim", "num_heads", "num_layers", "in_dim", "out_dim", "text_len", "freq_dim",
                          "eps", "model_type"}) {
    json j = native_1_3b();
    j.erase(key);
    SCOPED_TRACE(key);
    expect_checkpoint_error(j, {"'" + std::string(key) + "'"});
  }
}

TEST(WanConfigNative, DimNotDivisibleByHeads) {
  json j = native_1_3b();
  j["dim"] = 1540;
  expect_checkpoint_error(j, {"divisible", "1540"});
  j["dim"] = 12 * 7;  // head dim 7: odd
  expect_checkpoint_error(j, {"head dim", "7"});
}

TEST(WanConfigSettle, NativeI2VIsSettledByTheTensors) {
  WanConfig c = parse(native_i2v_14b());
  WanConfig wan22 = settle_image_branch(c, false, "/m/config.json");
  EXPECT_FALSE(wan22.has_image_branch);
  EXPECT_EQ(wan22.variant, "wan2.2-i2v-a14b");
  WanConfig wan21 = settle_image_branch(c, true, "/m/config.json");
  EXPECT_TRUE(wan21.has_image_branch);
  EXPECT_EQ(wan21.variant, "wan2.1-i2v-14b");
}

TEST(WanConfigSettle, OtherConfigsMustAgreeWithTheTensors) {
  EXPECT_EQ(settle_image_branch(parse(diffusers_1_3b()), false, "/m/config.json").variant, "wan2.1-t2v-1.3b");
  for (const WanConfig& c : {parse(diffusers_1_3b()), parse(diffusers_i2v_14b()), parse(native_1_3b())}) {
    try {
      settle_image_branch(c, !c.has_image_branch, "/m/config.json");
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Checkpoint);
      EXPECT_NE(std::string(e.what()).find("/m/config.json"), std::string::npos);
    }
  }
}

TEST(WanConfigForm, BadDocuments) {
  expect_checkpoint_error(json::parse("[1, 2]"), {"object"});
  try {
    parse_wan_config_text("{\"dim\": 1536,", "/m/transformer/config.json");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Checkpoint);
    EXPECT_NE(std::string(e.what()).find("/m/transformer/config.json"), std::string::npos);
  }
  json other = diffusers_1_3b();
  other["_class_name"] = "WanVACETransformer3DModel";
  expect_checkpoint_error(other, {"WanVACETransformer3DModel"});
  expect_checkpoint_error(json::parse(R"({"hidden_size": 3})"), {"neither"});
  // Without a class name the keys decide the form.
  json no_class = native_1_3b();
  no_class.erase("_class_name");
  EXPECT_EQ(parse(no_class).variant, "wan2.1-t2v-1.3b");
  json diff_no_class = diffusers_1_3b();
  diff_no_class.erase("_class_name");
  EXPECT_EQ(parse(diff_no_class).variant, "wan2.1-t2v-1.3b");
}

TEST(WanConfigFile, ReadsAFileAndReportsAMissingOne) {
  const std::string path = ::testing::TempDir() + "qdit_wan_config_test.json";
  {
    std::ofstream out(path);
    out << diffusers_i2v_14b().dump(2);
  }
  EXPECT_EQ(parse_wan_config_file(path).variant, "wan2.1-i2v-14b");
  std::remove(path.c_str());
  try {
    parse_wan_config_file(path);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
}

TEST(WanReleased, SixVariantsWithTheirSizes) {
  struct Expect {
    const char* id;
    int64_t D, F, heads, layers, cin, cout;
    bool image;
  };
  const Expect table[] = {{"wan2.1-t2v-1.3b", 1536, 8960, 12, 30, 16, 16, false},
                          {"wan2.1-t2v-14b", 5120, 13824, 40, 40, 16, 16, false},
                          {"wan2.1-i2v-14b", 5120, 13824, 40, 40, 36, 16, true},
                          {"wan2.2-t2v-a14b", 5120, 13824, 40, 40, 16, 16, false},
                          {"wan2.2-i2v-a14b", 5120, 13824, 40, 40, 36, 16, false},
                          {"wan2.2-ti2v-5b", 3072, 14336, 24, 30, 48, 48, false}};
  for (const Expect& e : table) {
    WanConfig c = released_config(e.id);
    EXPECT_EQ(c.variant, e.id);
    EXPECT_EQ(c.dim, e.D) << e.id;
    EXPECT_EQ(c.ffn_dim, e.F) << e.id;
    EXPECT_EQ(c.num_heads, e.heads) << e.id;
    EXPECT_EQ(c.head_dim(), 128) << e.id;
    EXPECT_EQ(c.num_layers, e.layers) << e.id;
    EXPECT_EQ(c.in_channels, e.cin) << e.id;
    EXPECT_EQ(c.out_channels, e.cout) << e.id;
    EXPECT_EQ(c.has_image_branch, e.image) << e.id;
    EXPECT_EQ(c.text_dim, 4096);
    EXPECT_EQ(c.freq_dim, 256);
    EXPECT_FLOAT_EQ(c.eps, 1e-6f);
    // Sizes name the variant back, except the A14B T2V experts, whose architecture is Wan2.1 T2V-14B's.
    EXPECT_EQ(identify_variant(c), std::string(e.id) == "wan2.2-t2v-a14b" ? "wan2.1-t2v-14b" : e.id);
  }
  try {
    released_config("wan2.1-t2v-2b");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("wan2.1-t2v-2b"), std::string::npos);
  }
}

}  // namespace
}  // namespace qdit::wan
