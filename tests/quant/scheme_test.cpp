#include "qdit/quant/scheme.h"

#include <gtest/gtest.h>

#include <set>

namespace qdit::quant {
namespace {

TEST(Scheme, EveryRunnableSchemeIsDeclaredOnce) {
  std::set<SchemeId> seen;
  for (const auto& d : scheme_decls()) {
    EXPECT_TRUE(seen.insert(d.id).second);
    EXPECT_STREQ(std::string(d.name).c_str(), scheme_name(d.id));
    // Exactly one weight, required, and suffixes unique within a scheme.
    std::set<std::string_view> suffixes;
    for (const auto& p : d.params) {
      EXPECT_TRUE(suffixes.insert(p.suffix).second) << d.name << " " << p.suffix;
      EXPECT_FALSE(p.dtypes.empty());
      if (!p.required) EXPECT_FALSE(p.when_absent.empty()) << d.name << "." << p.suffix << " needs an explicit default";
    }
    const ParamSpec* w = find_param(d, "weight");
    ASSERT_NE(w, nullptr) << d.name;
    EXPECT_TRUE(w->required);
    EXPECT_EQ(w->slot, Slot::Weight);
  }
  EXPECT_EQ(seen.size(), 6u);
}

TEST(Scheme, StaticW8A8Tensors) {
  const SchemeDecl& d = scheme_decl(SchemeId::W8A8);
  for (auto s : {"weight", "input_scale", "input_offset", "deq_scale", "quant_bias"}) {
    ASSERT_NE(find_param(d, s), nullptr) << s;
    EXPECT_TRUE(find_param(d, s)->required) << s;
  }
  const ParamSpec* deq = find_param(d, "deq_scale");
  EXPECT_TRUE(dtype_accepted(*deq, DType::I64));
  EXPECT_TRUE(dtype_accepted(*deq, DType::F32));
  EXPECT_FALSE(dtype_accepted(*deq, DType::BF16));
  EXPECT_EQ(deq->decode, Decode::DeqScale);
  EXPECT_EQ(dtypes_text(*deq), "I64 or F32");
  for (auto s : {"input_scale", "input_offset"})
    for (DType t : {DType::F32, DType::BF16, DType::F16}) EXPECT_TRUE(dtype_accepted(*find_param(d, s), t));
  EXPECT_EQ(find_param(d, "quant_bias")->dtypes, std::vector<DType>{DType::I32});
  // The float bias is consumed but never applied: it is already folded into quant_bias.
  const ParamSpec* bias = find_param(d, "bias");
  ASSERT_NE(bias, nullptr);
  EXPECT_FALSE(bias->required);
  EXPECT_EQ(bias->use, Use::FoldedNotApplied);
  EXPECT_EQ(bias->slot, Slot::None);
  EXPECT_FALSE(find_param(d, "weight_scale")->required);
}

TEST(Scheme, DynamicSchemesNeedWeightScale) {
  for (SchemeId id : {SchemeId::W8A8Dynamic, SchemeId::W4A4Dynamic, SchemeId::W8A16, SchemeId::W4A8Dynamic}) {
    const ParamSpec* s = find_param(scheme_decl(id), "weight_scale");
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(s->required);
    EXPECT_TRUE(shape_accepted(s->shape, 6, 4, {6, 1}));
    EXPECT_TRUE(shape_accepted(s->shape, 6, 4, {6}));
    EXPECT_FALSE(shape_accepted(s->shape, 6, 4, {6, 2}));
    EXPECT_FALSE(shape_accepted(s->shape, 6, 4, {1, 6}));
    EXPECT_TRUE(scheme_decl(id).has_per_group_form);
  }
  EXPECT_EQ(find_param(scheme_decl(SchemeId::W4A4Dynamic), "weight")->decode, Decode::Int4Values);
  EXPECT_EQ(find_param(scheme_decl(SchemeId::W8A16), "weight_offset")->slot, Slot::WeightOffset);
  EXPECT_TRUE(scheme_decl(SchemeId::W8A8Dynamic).weight_offset_must_be_zero);
  EXPECT_FALSE(scheme_decl(SchemeId::W8A16).weight_offset_must_be_zero);
}

TEST(Scheme, W4A8PackedAlongN) {
  const SchemeDecl& d = scheme_decl(SchemeId::W4A8Dynamic);
  EXPECT_TRUE(d.requires_version_1);
  const ParamSpec* w = find_param(d, "weight");
  EXPECT_EQ(w->decode, Decode::UnpackInt4AlongN);
  EXPECT_TRUE(shape_accepted(w->shape, 8, 5, {4, 5}));
  EXPECT_FALSE(shape_accepted(w->shape, 8, 5, {8, 5}));
  EXPECT_FALSE(shape_accepted(w->shape, 8, 5, {8, 3}));
  EXPECT_TRUE(accepted_shapes(w->shape, 7, 5).empty());  // odd N cannot be packed in pairs
  const ParamSpec* sb = find_param(d, "scale_bias");
  ASSERT_NE(sb, nullptr);
  EXPECT_FALSE(sb->required);
  EXPECT_EQ(sb->use, Use::Verified);
  EXPECT_TRUE(shape_accepted(sb->shape, 8, 5, {8, 16}));
  EXPECT_TRUE(shape_accepted(sb->shape, 8, 5, {8, 1}));
}

TEST(Scheme, ShapeText) {
  EXPECT_EQ(shape_rule_text(ShapeRule::MatrixNK), "[N, K]");
  EXPECT_EQ(shape_rule_text(ShapeRule::MatrixNK, 3, 4), "[3, 4]");
  EXPECT_EQ(shape_rule_text(ShapeRule::PerChannel, 3, 4), "[3, 1] or [3]");
  EXPECT_EQ(shape_rule_text(ShapeRule::Scalar, 3, 4), "[1]");
}

TEST(Scheme, FloatWeightsAreFloatOnly) {
  const ParamSpec* w = find_param(scheme_decl(SchemeId::Float), "weight");
  for (DType t : {DType::F32, DType::BF16, DType::F16}) EXPECT_TRUE(dtype_accepted(*w, t));
  for (DType t : {DType::F64, DType::I8, DType::F8_E4M3}) EXPECT_FALSE(dtype_accepted(*w, t));
}

}  // namespace
}  // namespace qdit::quant
