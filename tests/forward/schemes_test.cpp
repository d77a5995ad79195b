// Whole-model forward per ModelSlim scheme and with all schemes mixed layer by layer: the fast path against the
// float64 reference of the same quantized arithmetic (FP32 < 1e-4 against the plain reference; BF16 < 1e-2
// against the reference evaluating the bf16 policy, for every scheme and the mixes), and the quantized model
// against the float model it came from (reported; small but non-zero). BF16 is also compared with the plain
// reference, as an additional check of what the bf16 policy costs, with the looser int4 budget below.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "forward/reference_f64.h"
#include "forward/tiny_model.h"

namespace qdit::wan {
namespace {

using testing::Variant;

constexpr SchemeId kAllSchemes[] = {SchemeId::Float,       SchemeId::W8A8,  SchemeId::W8A8Dynamic,
                                    SchemeId::W4A4Dynamic, SchemeId::W8A16, SchemeId::W4A8Dynamic};

bool is_block_layer(const std::string& name) { return name.rfind("blocks.", 0) == 0; }

// How far a quantized model may drift from its float original on these random tiny models (measured: 0.2-0.6 %
// for the int8 schemes, 4.6 % W4A8, 6.9 % W4A4): int8 within the 2 % the quantizer issue sets for W8A8, int4
// weights cost an order of magnitude more.
double quantization_budget(SchemeId s) {
  switch (s) {
    case SchemeId::W4A4Dynamic: return 0.2;
    case SchemeId::W4A8Dynamic: return 0.15;
    default: return 0.02;
  }
}

// BF16 budget against the plain float64 reference (the fp32 arithmetic): 1e-2, except where int4 activations
// (W4A4_DYNAMIC) are quantized. Their 16 levels turn the ~2^-8 perturbations of bf16 GEMM/attention inputs
// upstream into whole quantization steps for some elements (measured: 3.1 % for W4A4 against 0.4 % for
// W8A8_DYNAMIC), so the error is bounded relative to the scheme's own quantization error instead: bf16 must
// add clearly less than int4 quantization already costs.
double bf16_budget(bool int4_activations, double quantization_drift) {
  return int4_activations ? std::max(1e-2, 0.6 * quantization_drift) : 1e-2;
}

using Model = testing::SchemeModel;
const auto build = testing::build_scheme_model;

struct Errors {
  double fp32;         // FP32 forward vs the plain reference
  double bf16;         // BF16 forward vs the bf16-policy reference (the same arithmetic)
  double bf16_plain;   // BF16 forward vs the plain reference (what the bf16 policy costs)
};

Errors fast_vs_reference(const Model& m) {
  ForwardOptions o;
  const std::vector<double> plain = ref::reference_forward(m.quantized, m.inputs);
  const std::vector<double> policy = ref::reference_forward(m.quantized, m.inputs, {.bf16_policy = true});
  const std::vector<double> fast32 = ref::to_doubles(wan_forward(m.quantized, m.inputs, o));
  o.precision = ops::Precision::BF16;
  const std::vector<double> fast16 = ref::to_doubles(wan_forward(m.quantized, m.inputs, o));
  return {ref::rel_l2(fast32, plain), ref::rel_l2(fast16, policy), ref::rel_l2(fast16, plain)};
}

class SchemeTest : public ::testing::TestWithParam<SchemeId> {};

TEST_P(SchemeTest, MatchesReferenceAndStaysCloseToFloat) {
  const SchemeId s = GetParam();
  const Model m = build(Variant::T2V_21, [&](const std::string& n) { return is_block_layer(n) ? s : SchemeId::Float; },
                        41);
  int quantized_layers = 0;
  for (const auto& b : m.quantized.blocks) quantized_layers += b.ffn_up.scheme == s;
  ASSERT_EQ(quantized_layers, static_cast<int>(m.quantized.blocks.size()));

  const Errors e = fast_vs_reference(m);
  const double drift = ref::rel_l2(ref::to_doubles(wan_forward(m.quantized, m.inputs, {})),
                                   ref::to_doubles(wan_forward(m.float_model, m.inputs, {})));
  std::printf("%-13s fast vs float64: fp32 %.3g, bf16 %.3g (bf16-policy ref), bf16 %.3g (plain ref); "
              "quantized vs float model: %.4g\n",
              scheme_name(s), e.fp32, e.bf16, e.bf16_plain, drift);
  EXPECT_LT(e.fp32, 1e-4);
  EXPECT_LT(e.bf16, 1e-2);
  EXPECT_LT(e.bf16_plain, bf16_budget(s == SchemeId::W4A4Dynamic, drift));

  ::testing::Test::RecordProperty("quantized_vs_float_rel_l2", std::to_string(drift));
  if (s == SchemeId::Float) {
    EXPECT_EQ(drift, 0.0);
  } else {
    EXPECT_GT(drift, 1e-5) << "a quantized model identical to the float one was not quantized";
    EXPECT_LT(drift, quantization_budget(s));
  }
}

INSTANTIATE_TEST_SUITE_P(ModelSlim, SchemeTest, ::testing::ValuesIn(kAllSchemes),
                         [](const ::testing::TestParamInfo<SchemeId>& i) { return std::string(scheme_name(i.param)); });

// Every linear of the model, block or not, gets the next scheme in turn, so neighbouring layers differ.
class MixedSchemeTest : public ::testing::TestWithParam<Variant> {};

TEST_P(MixedSchemeTest, EveryLayerItsOwnScheme) {
  int next = 0;
  std::map<std::string, SchemeId> assigned;
  const Model m = build(GetParam(),
                        [&](const std::string& n) { return assigned[n] = kAllSchemes[next++ % 6]; }, 51);
  std::map<SchemeId, int> used;
  WanWeights copy = m.quantized;
  testing::for_each_linear(copy, [&](const std::string& n, QuantLinear& l) {
    EXPECT_EQ(l.scheme, assigned.at(n)) << n;
    ++used[l.scheme];
  });
  EXPECT_EQ(used.size(), 6u);
  const Errors e = fast_vs_reference(m);
  const double drift = ref::rel_l2(ref::to_doubles(wan_forward(m.quantized, m.inputs, {})),
                                   ref::to_doubles(wan_forward(m.float_model, m.inputs, {})));
  std::printf("mixed schemes (%s) fast vs float64: fp32 %.3g, bf16 %.3g (bf16-policy ref), bf16 %.3g (plain ref); "
              "quantized vs float model: %.4g\n",
              testing::variant_name(GetParam()), e.fp32, e.bf16, e.bf16_plain, drift);
  EXPECT_LT(e.fp32, 1e-4);
  EXPECT_LT(e.bf16, 1e-2);
  EXPECT_LT(e.bf16_plain, bf16_budget(true, drift));
  EXPECT_GT(drift, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Wan, MixedSchemeTest, ::testing::Values(Variant::I2V_21, Variant::TI2V_22),
                         [](const ::testing::TestParamInfo<Variant>& i) {
                           return i.param == Variant::I2V_21 ? std::string("I2V") : std::string("TI2V");
                         });

}  // namespace
}  // namespace qdit::wan
