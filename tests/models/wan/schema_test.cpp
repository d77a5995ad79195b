// The schema against wan-dit.md §1-2: parameter counts (checked against a closed-form count written here and
// against the spec's computed figures), shapes, the runtime layer table, and round trips of every canonical
// name of every variant through both rule-list pairs, with every quantization suffix.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "qdit/core/error.h"
#include "qdit/models/wan/schema.h"

namespace qdit::wan {
namespace {

const char* const kVariants[] = {"wan2.1-t2v-1.3b", "wan2.1-t2v-14b",  "wan2.1-i2v-14b",
                                 "wan2.2-t2v-a14b", "wan2.2-i2v-a14b", "wan2.2-ti2v-5b"};
const char* const kQuantSuffixes[] = {"weight_scale", "weight_offset", "input_scale", "input_offset",
                                      "quant_bias",   "deq_scale",     "scale_bias"};

WanConfig tiny_config(bool image, bool pos_embed) {
  WanConfig c;
  c.variant = "custom";
  c.dim = 64;
  c.num_heads = 2;
  c.ffn_dim = 96;
  c.num_layers = 3;
  c.in_channels = image ? 36 : 16;
  c.out_channels = 16;
  c.text_dim = 48;
  c.freq_dim = 32;
  c.has_image_branch = image;
  c.image_dim = 40;
  c.image_pos_embed = pos_embed;
  c.image_tokens = pos_embed ? 514 : 257;
  return c;
}

// The closed form of wan-dit.md §1, counted from the architecture description, independent of the schema code.
struct Counts {
  int64_t per_block, non_block, total;
};
Counts closed_form(const WanConfig& c) {
  const int64_t D = c.dim, F = c.ffn_dim, I = c.image_dim;
  int64_t block = 8 * D * D + 8 * D  // attn1 + attn2 q, k, v, out with biases
                  + 4 * D            // norm_q, norm_k of both attentions
                  + 2 * D            // the affine cross-attention LayerNorm
                  + 2 * D * F + F + D  // FFN
                  + 6 * D;           // per-block modulation table
  if (c.has_image_branch) block += 2 * D * D + 2 * D + D;  // add_k_proj, add_v_proj, norm_added_k
  int64_t rest = D * c.in_channels * 4 + D                  // patch embedding
                 + D * c.freq_dim + D + D * D + D + 6 * D * D + 6 * D  // time MLP and projection
                 + D * c.text_dim + D + D * D + D           // text MLP
                 + 2 * D                                    // head modulation
                 + 4 * c.out_channels * D + 4 * c.out_channels;  // proj_out
  if (c.has_image_branch) rest += 2 * I + I * I + I + D * I + D + 2 * D;
  if (c.image_pos_embed) rest += c.image_tokens * I;
  return {block, rest, block * c.num_layers + rest};
}

TEST(WanSchema, ParameterCountsMatchTheSpec) {
  // wan-dit.md §1: total (billions, 3 decimals), per block and outside the blocks (millions, 1 decimal).
  struct Spec {
    const char* variant;
    double total_b, block_m, rest_m;
  };
  for (const Spec& s : {Spec{"wan2.1-t2v-1.3b", 1.419, 46.4, 25.8}, Spec{"wan2.1-t2v-14b", 14.288, 351.4, 232.7},
                        Spec{"wan2.2-ti2v-5b", 5.000, 163.7, 90.1}}) {
    WanSchema schema = build_schema(released_config(s.variant));
    const int64_t n = parameter_count(schema);
    EXPECT_NEAR(n / 1e9, s.total_b, 0.0005) << s.variant;
    const Counts cf = closed_form(schema.config);
    EXPECT_EQ(n, cf.total) << s.variant;
    EXPECT_NEAR(cf.per_block / 1e6, s.block_m, 0.05) << s.variant;
    EXPECT_NEAR(cf.non_block / 1e6, s.rest_m, 0.05) << s.variant;
  }
}

TEST(WanSchema, ParameterCountsOfEveryVariantAndTinyConfigs) {
  for (const char* v : kVariants) {
    WanSchema schema = build_schema(released_config(v));
    EXPECT_EQ(parameter_count(schema), closed_form(schema.config).total) << v;
  }
  for (bool image : {false, true}) {
    for (bool pos : {false, true}) {
      if (pos && !image) continue;
      WanConfig c = tiny_config(image, pos);
      EXPECT_EQ(parameter_count(build_schema(c)), closed_form(c).total) << image << pos;
    }
  }
  // I2V 14B = T2V 14B + the image MLP + k_img/v_img/norm_k_img per block (wan-dit.md §1 table).
  const int64_t t2v = parameter_count(build_schema(released_config("wan2.1-t2v-14b")));
  const int64_t i2v = parameter_count(build_schema(released_config("wan2.1-i2v-14b")));
  const int64_t D = 5120;
  const int64_t patch_extra = 20 * 4 * D;  // 36 instead of 16 input channels
  const int64_t img_mlp = 1280 * 2 + 1280 * 1280 + 1280 + D * 1280 + D + 2 * D;
  EXPECT_EQ(i2v - t2v, patch_extra + img_mlp + 40 * (2 * D * D + 2 * D + D));
}

TEST(WanSchema, ShapesOfTheNonBlockParameters) {
  WanSchema s = build_schema(released_config("wan2.1-i2v-14b"));
  std::map<std::string, Shape> shape;
  for (const ParamDecl& p : s.params) shape[p.canonical] = p.shape;
  const int64_t D = 5120;
  EXPECT_EQ(shape.at("patch_embedding.weight"), (Shape{D, 36, 1, 2, 2}));
  EXPECT_EQ(shape.at("patch_embedding.bias"), (Shape{D}));
  EXPECT_EQ(shape.at("condition_embedder.time_embedder.linear_1.weight"), (Shape{D, 256}));
  EXPECT_EQ(shape.at("condition_embedder.time_embedder.linear_2.weight"), (Shape{D, D}));
  EXPECT_EQ(shape.at("condition_embedder.time_proj.weight"), (Shape{6 * D, D}));
  EXPECT_EQ(shape.at("condition_embedder.time_proj.bias"), (Shape{6 * D}));
  EXPECT_EQ(shape.at("condition_embedder.text_embedder.linear_1.weight"), (Shape{D, 4096}));
  EXPECT_EQ(shape.at("condition_embedder.image_embedder.norm1.weight"), (Shape{1280}));
  EXPECT_EQ(shape.at("condition_embedder.image_embedder.ff.net.0.proj.weight"), (Shape{1280, 1280}));
  EXPECT_EQ(shape.at("condition_embedder.image_embedder.ff.net.2.weight"), (Shape{D, 1280}));
  EXPECT_EQ(shape.at("condition_embedder.image_embedder.norm2.bias"), (Shape{D}));
  EXPECT_EQ(shape.at("scale_shift_table"), (Shape{1, 2, D}));
  EXPECT_EQ(shape.at("proj_out.weight"), (Shape{64, D}));
  EXPECT_EQ(shape.at("proj_out.bias"), (Shape{64}));
  EXPECT_EQ(shape.at("blocks.39.scale_shift_table"), (Shape{1, 6, D}));
  EXPECT_EQ(shape.at("blocks.39.attn2.add_k_proj.weight"), (Shape{D, D}));
  EXPECT_EQ(shape.at("blocks.39.attn2.norm_added_k.weight"), (Shape{D}));
  EXPECT_EQ(shape.at("blocks.0.ffn.net.0.proj.weight"), (Shape{13824, D}));
  EXPECT_EQ(shape.at("blocks.0.ffn.net.2.weight"), (Shape{D, 13824}));
  EXPECT_EQ(shape.at("blocks.0.norm2.weight"), (Shape{D}));
  EXPECT_EQ(shape.count("blocks.0.norm3.weight"), 0u);  // the FFN LayerNorm has no parameters
  EXPECT_EQ(shape.count("blocks.40.scale_shift_table"), 0u);

  // Wan 2.2 TI2V-5B: 48 latent channels. at() fails the test when a parameter is missing, not only when its shape
  // is wrong.
  std::map<std::string, Shape> ti2v;
  for (const ParamDecl& p : build_schema(released_config("wan2.2-ti2v-5b")).params) ti2v[p.canonical] = p.shape;
  EXPECT_EQ(ti2v.at("proj_out.weight"), (Shape{4 * 48, 3072}));
  EXPECT_EQ(ti2v.at("patch_embedding.weight"), (Shape{3072, 48, 1, 2, 2}));
}

TEST(WanSchema, ImageBranchOnlyForWan21I2VAndFLF2V) {
  for (const char* v : kVariants) {
    WanSchema s = build_schema(released_config(v));
    bool any_image = false;
    for (const ParamDecl& p : s.params) {
      any_image |= p.canonical.find("image_embedder") != std::string::npos ||
                   p.canonical.find("add_k_proj") != std::string::npos;
    }
    EXPECT_EQ(any_image, std::string(v) == "wan2.1-i2v-14b") << v;
  }
  WanSchema flf = build_schema(tiny_config(true, true));
  bool pos = false;
  for (const ParamDecl& p : flf.params) {
    if (p.canonical != "condition_embedder.image_embedder.pos_embed") continue;
    pos = true;
    EXPECT_EQ(p.shape, (Shape{1, 514, 40}));
    EXPECT_EQ(p.role, ParamRole::PositionEmbedding);
  }
  EXPECT_TRUE(pos);
}

TEST(WanSchema, NamesAreUniqueAndRolesFitTheSuffix) {
  WanSchema s = build_schema(tiny_config(true, true));
  std::set<std::string> seen;
  for (const ParamDecl& p : s.params) {
    EXPECT_TRUE(seen.insert(p.canonical).second) << p.canonical;
    switch (p.role) {
      case ParamRole::LinearWeight:
      case ParamRole::ConvWeight:
      case ParamRole::Norm:
        EXPECT_EQ(p.canonical, p.layer + ".weight");
        break;
      case ParamRole::LinearBias:
      case ParamRole::ConvBias:
      case ParamRole::NormBias:
        EXPECT_EQ(p.canonical, p.layer + ".bias");
        break;
      case ParamRole::Modulation:
      case ParamRole::PositionEmbedding:
        EXPECT_EQ(p.canonical, p.layer);
        break;
    }
  }
}

TEST(WanSchema, LinearsWithRuntimeNamesFromTheRuleList) {
  WanSchema s = build_schema(tiny_config(true, false));
  // The complete runtime layer table of one block and of the rest, written out by hand.
  struct Expect {
    std::string canonical, runtime;
    int64_t out, in;
    bool quantizable;
    int merge, merged;
  };
  const int64_t D = 64, F = 96;
  std::vector<Expect> expect = {
      {"patch_embedding", "patch_embed", D, 36 * 4, false, -1, 0},
      {"condition_embedder.time_embedder.linear_1", "time.fc1", D, 32, false, -1, 0},
      {"condition_embedder.time_embedder.linear_2", "time.fc2", D, D, false, -1, 0},
      {"condition_embedder.time_proj", "time.proj", 6 * D, D, false, -1, 0},
      {"condition_embedder.text_embedder.linear_1", "text.fc1", D, 48, false, -1, 0},
      {"condition_embedder.text_embedder.linear_2", "text.fc2", D, D, false, -1, 0},
      {"condition_embedder.image_embedder.ff.net.0.proj", "image.fc1", 40, 40, false, -1, 0},
      {"condition_embedder.image_embedder.ff.net.2", "image.fc2", D, 40, false, -1, 0},
  };
  for (int b = 0; b < 3; ++b) {
    const std::string p = "blocks." + std::to_string(b) + ".";
    const std::vector<Expect> block = {
        {p + "attn1.to_q", p + "self_attn.qkv", D, D, true, 0, 3},
        {p + "attn1.to_k", p + "self_attn.qkv", D, D, true, 1, 3},
        {p + "attn1.to_v", p + "self_attn.qkv", D, D, true, 2, 3},
        {p + "attn1.to_out.0", p + "self_attn.out", D, D, true, -1, 0},
        {p + "attn2.to_q", p + "cross_attn.q", D, D, true, -1, 0},
        {p + "attn2.to_k", p + "cross_attn.kv", D, D, true, 0, 2},
        {p + "attn2.to_v", p + "cross_attn.kv", D, D, true, 1, 2},
        {p + "attn2.to_out.0", p + "cross_attn.out", D, D, true, -1, 0},
        {p + "attn2.add_k_proj", p + "cross_attn.kv_img", D, D, true, 0, 2},
        {p + "attn2.add_v_proj", p + "cross_attn.kv_img", D, D, true, 1, 2},
        {p + "ffn.net.0.proj", p + "ffn.up", F, D, true, -1, 0},
        {p + "ffn.net.2", p + "ffn.down", D, F, true, -1, 0},
    };
    expect.insert(expect.end(), block.begin(), block.end());
  }
  expect.push_back({"proj_out", "head.proj", 64, D, true, -1, 0});

  std::map<std::string, const LinearDecl*> by_name;
  for (const LinearDecl& l : s.linears) by_name[l.canonical] = &l;
  ASSERT_EQ(s.linears.size(), expect.size());
  for (const Expect& e : expect) {
    ASSERT_TRUE(by_name.count(e.canonical)) << e.canonical;
    const LinearDecl& l = *by_name.at(e.canonical);
    EXPECT_EQ(l.runtime, e.runtime) << e.canonical;
    EXPECT_EQ(l.out_features, e.out) << e.canonical;
    EXPECT_EQ(l.in_features, e.in) << e.canonical;
    EXPECT_EQ(l.quantizable, e.quantizable) << e.canonical;
    EXPECT_EQ(l.merge_index, e.merge) << e.canonical;
    EXPECT_EQ(l.num_merged, e.merged) << e.canonical;
  }
}

TEST(WanSchema, FusedShardsAreAdjacentInMergeOrderAndAgreeOnK) {
  WanSchema s = build_schema(released_config("wan2.1-i2v-14b"));
  for (size_t i = 0; i < s.linears.size(); ++i) {
    const LinearDecl& l = s.linears[i];
    if (l.num_merged == 0) continue;
    if (l.merge_index > 0) {
      ASSERT_GT(i, 0u);
      const LinearDecl& prev = s.linears[i - 1];
      EXPECT_EQ(prev.runtime, l.runtime);
      EXPECT_EQ(prev.merge_index, l.merge_index - 1);
      EXPECT_EQ(prev.in_features, l.in_features);
      EXPECT_EQ(prev.num_merged, l.num_merged);
    } else {
      // The whole group follows: num_merged shards with the same runtime name.
      for (int k = 1; k < l.num_merged; ++k) EXPECT_EQ(s.linears.at(i + k).runtime, l.runtime);
    }
  }
}

TEST(WanSchema, EveryLinearHasItsWeightAndBiasDeclared) {
  WanSchema s = build_schema(tiny_config(true, false));
  std::map<std::string, Shape> shape;
  for (const ParamDecl& p : s.params) shape[p.canonical] = p.shape;
  for (const LinearDecl& l : s.linears) {
    ASSERT_TRUE(shape.count(l.canonical + ".weight")) << l.canonical;
    EXPECT_EQ(shape_numel(shape.at(l.canonical + ".weight")), l.out_features * l.in_features) << l.canonical;
    EXPECT_EQ(shape.at(l.canonical + ".bias"), (Shape{l.out_features})) << l.canonical;
  }
}

// Every canonical name of a schema, plus every quantization suffix on every linear layer.
std::vector<std::string> all_canonical_names(const WanSchema& s) {
  std::vector<std::string> names;
  for (const ParamDecl& p : s.params) names.push_back(p.canonical);
  for (const LinearDecl& l : s.linears) {
    for (const char* suffix : kQuantSuffixes) names.push_back(l.canonical + "." + suffix);
  }
  return names;
}

std::vector<WanSchema> every_variant_schema() {
  std::vector<WanSchema> out;
  for (const char* v : kVariants) out.push_back(build_schema(released_config(v)));
  out.push_back(build_schema(tiny_config(true, true)));
  return out;
}

TEST(WanRoundTrip, NativeAndDiffusersOverEveryCanonicalNameOfEveryVariant) {
  for (const WanSchema& s : every_variant_schema()) {
    const std::vector<std::string> canonical = all_canonical_names(s);
    EXPECT_EQ(round_trip_failures(wan_diffusers_to_native(), wan_native_to_diffusers(), canonical),
              std::vector<std::string>{})
        << s.config.variant;
    std::vector<std::string> native;
    for (const std::string& n : canonical) native.push_back(wan_diffusers_to_native().map(n).name);
    EXPECT_EQ(round_trip_failures(wan_native_to_diffusers(), wan_diffusers_to_native(), native),
              std::vector<std::string>{})
        << s.config.variant;
    EXPECT_EQ(std::set<std::string>(native.begin(), native.end()).size(), canonical.size()) << s.config.variant;
    EXPECT_EQ(detect_wan_namespace(native, "native"), WanNamespace::Native);
    EXPECT_EQ(detect_wan_namespace(canonical, "diffusers"), WanNamespace::Diffusers);
  }
}

TEST(WanRoundTrip, DiffusersAndRuntimeOverEveryCanonicalNameOfEveryVariant) {
  for (const WanSchema& s : every_variant_schema()) {
    const std::vector<std::string> canonical = all_canonical_names(s);
    EXPECT_EQ(round_trip_failures(wan_diffusers_to_runtime(), wan_runtime_to_diffusers(), canonical),
              std::vector<std::string>{})
        << s.config.variant;
    // Distinct canonical names never collide in the runtime namespace (same name and same slice).
    std::set<std::pair<std::string, int>> runtime;
    for (const std::string& n : canonical) {
      MappedName m = wan_diffusers_to_runtime().map(n);
      EXPECT_TRUE(runtime.insert({m.name, m.merge_index}).second) << n << " -> " << m.name;
    }
  }
}

TEST(WanRoundTrip, NativeNamesOfOneI2VBlockAsInTheOriginalRepo) {
  // wan-dit.md §2.2: the complete native parameter list of one I2V block.
  WanConfig c = tiny_config(true, false);
  c.num_layers = 1;
  std::set<std::string> native;
  for (const ParamDecl& p : build_schema(c).params) {
    if (p.canonical.starts_with("blocks.")) native.insert(wan_diffusers_to_native().map(p.canonical).name);
  }
  std::set<std::string> expected = {"blocks.0.modulation", "blocks.0.self_attn.norm_q.weight",
                                    "blocks.0.self_attn.norm_k.weight", "blocks.0.norm3.weight",
                                    "blocks.0.norm3.bias", "blocks.0.cross_attn.norm_q.weight",
                                    "blocks.0.cross_attn.norm_k.weight", "blocks.0.cross_attn.norm_k_img.weight"};
  for (const char* l : {"self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o", "cross_attn.q", "cross_attn.k",
                        "cross_attn.v", "cross_attn.o", "cross_attn.k_img", "cross_attn.v_img", "ffn.0", "ffn.2"}) {
    expected.insert(std::string("blocks.0.") + l + ".weight");
    expected.insert(std::string("blocks.0.") + l + ".bias");
  }
  EXPECT_EQ(native, expected);
}

TEST(WanSchema, ImpossibleSizesAreUsageErrors) {
  WanConfig c = tiny_config(false, false);
  c.num_heads = 3;  // 64 % 3 != 0
  EXPECT_THROW(build_schema(c), Error);
  c = tiny_config(false, false);
  c.num_heads = 64;  // head dim 1: odd
  EXPECT_THROW(build_schema(c), Error);
  c = tiny_config(false, false);
  c.num_layers = 0;
  try {
    build_schema(c);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("num_layers"), std::string::npos);
  }
}

TEST(WanSchema, CheckedParameterCountIsTheSchemasCount) {
  for (const char* v : kVariants) {
    const WanConfig c = released_config(v);
    ASSERT_TRUE(checked_parameter_count(c).has_value()) << v;
    EXPECT_EQ(*checked_parameter_count(c), parameter_count(build_schema(c))) << v;
    EXPECT_EQ(*checked_parameter_count(c), closed_form(c).total) << v;
  }
  for (bool image : {false, true}) {
    for (bool pos : {false, true}) {
      if (pos && !image) continue;
      const WanConfig c = tiny_config(image, pos);
      ASSERT_TRUE(checked_parameter_count(c).has_value());
      EXPECT_EQ(*checked_parameter_count(c), parameter_count(build_schema(c))) << image << pos;
    }
  }
}

// Found by fuzz/wan_config_fuzz: sizes whose products pass 2^63 made build_schema compute shapes and counts with
// signed overflow (undefined behaviour) instead of failing.
TEST(WanSchema, SizesWhoseCountOverflowsInt64AreUsageErrors) {
  // D = 2, so the text MLP's first weight adds exactly 2 x text_dim: put the total one below and at 2^63 - 1.
  WanConfig c = tiny_config(false, false);
  c.dim = 2;
  c.num_heads = 1;
  c.text_dim = 1;
  const int64_t rest = closed_form(c).total - 2;
  c.text_dim = (INT64_MAX - 1 - rest) / 2;
  ASSERT_TRUE(checked_parameter_count(c).has_value());
  EXPECT_EQ(*checked_parameter_count(c), rest + 2 * c.text_dim);
  EXPECT_EQ(parameter_count(build_schema(c)), rest + 2 * c.text_dim);
  c.text_dim += 1;  // the total reaches 2^63 - 1 + (0 or 1): no longer below 2^63 - 1
  EXPECT_FALSE(checked_parameter_count(c).has_value());

  std::vector<WanConfig> huge(4, tiny_config(true, true));
  huge[0].dim = int64_t(1) << 61;  // D x D alone overflows
  huge[0].num_heads = 2;
  huge[1].out_channels = int64_t(1) << 62;  // 4 x Cout overflows before the head's D
  huge[2].num_layers = INT64_MAX / 2;       // each block is small, their number is not
  huge[3].image_tokens = INT64_MAX / 8;     // only the FLF2V position embedding overflows
  for (size_t i = 0; i < huge.size(); ++i) {
    EXPECT_FALSE(checked_parameter_count(huge[i]).has_value()) << i;
    try {
      build_schema(huge[i]);
      ADD_FAILURE() << "no error for case " << i;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Usage) << i;
      EXPECT_NE(std::string(e.what()).find("overflows 64 bits"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace qdit::wan
