// Whole-model forward per released variant (shrunken), float weights, against the float64 reference:
// FP32 within 1e-4 relative L2 of the plain reference; BF16 within 1e-2 of the reference evaluating the bf16
// policy (ReferenceOptions::bf16_policy: the same values rounded to bf16), and, as an additional check of what
// the policy costs, within 1e-2 of the plain one.
#include <gtest/gtest.h>

#include <cstdio>

#include "forward/reference_f64.h"
#include "forward/tiny_model.h"

namespace qdit::wan {
namespace {

using testing::InputSpec;
using testing::Variant;

InputSpec inputs_for(Variant v) {
  InputSpec s;
  if (v == Variant::TI2V_22) {
    // TI2V image-to-video: the first latent frame is the clean image (t = 0), the rest share the step's t.
    s.per_token = [](int64_t f, int64_t, int64_t) { return f == 0 ? 0.0f : 917.0f; };
  }
  if (v == Variant::A14B_22) s.frames = 2, s.height = 6, s.width = 4, s.timestep = 999.0f;
  return s;
}

struct Case {
  Variant variant;
  ops::Precision precision;
};

class VariantTest : public ::testing::TestWithParam<Case> {};

TEST_P(VariantTest, MatchesFloat64Reference) {
  const Case c = GetParam();
  const WanConfig cfg = testing::tiny_config(c.variant);
  const WanWeights w = testing::random_float_weights(cfg, 11);
  const WanInputs in = testing::random_inputs(cfg, inputs_for(c.variant), 12);
  ForwardOptions o;
  o.precision = c.precision;
  const Tensor out = wan_forward(w, in, o);
  ASSERT_EQ(out.shape(), (Shape{cfg.out_channels, in.hidden_states.dim(1), in.hidden_states.dim(2),
                                in.hidden_states.dim(3)}));
  const std::vector<double> ref = ref::reference_forward(w, in);
  const double err = ref::rel_l2(ref::to_doubles(out), ref);
  const bool fp32 = c.precision == ops::Precision::FP32;
  if (fp32) {
    std::printf("%s fp32: rel L2 vs float64 = %.3g\n", testing::variant_name(c.variant), err);
    EXPECT_LT(err, 1e-4);
    return;
  }
  const std::vector<double> policy_ref = ref::reference_forward(w, in, {.bf16_policy = true});
  const double policy_err = ref::rel_l2(ref::to_doubles(out), policy_ref);
  std::printf("%s bf16: rel L2 vs bf16-policy float64 = %.3g, vs plain float64 = %.3g\n",
              testing::variant_name(c.variant), policy_err, err);
  EXPECT_LT(policy_err, 1e-2);
  EXPECT_LT(err, 1e-2);
  // A BF16 run that silently stayed fp32 would pass the budget too: bf16 inputs must show in the error.
  EXPECT_GT(err, 1e-5);
  // ... and a bf16_policy option that rounded nothing would make the two references the same.
  EXPECT_GT(ref::rel_l2(policy_ref, ref), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(
    Wan, VariantTest,
    ::testing::Values(Case{Variant::T2V_21, ops::Precision::FP32}, Case{Variant::I2V_21, ops::Precision::FP32},
                      Case{Variant::TI2V_22, ops::Precision::FP32}, Case{Variant::A14B_22, ops::Precision::FP32},
                      Case{Variant::T2V_21, ops::Precision::BF16}, Case{Variant::I2V_21, ops::Precision::BF16},
                      Case{Variant::TI2V_22, ops::Precision::BF16}, Case{Variant::A14B_22, ops::Precision::BF16}),
    [](const ::testing::TestParamInfo<Case>& i) {
      std::string n = testing::variant_name(i.param.variant);
      for (char& ch : n)
        if (ch == '.' || ch == '-') ch = '_';
      return n + (i.param.precision == ops::Precision::FP32 ? "_fp32" : "_bf16");
    });

// Timesteps that differ per token (not only per frame) take the one-group-per-token path.
TEST(Variants, PerTokenTimestepsMatchReference) {
  const WanConfig cfg = testing::tiny_config(Variant::TI2V_22);
  const WanWeights w = testing::random_float_weights(cfg, 21);
  InputSpec s;
  s.per_token = [](int64_t f, int64_t h, int64_t x) { return static_cast<float>(100 * f + 10 * h + x); };
  const WanInputs in = testing::random_inputs(cfg, s, 22);
  const double err = ref::rel_l2(ref::to_doubles(wan_forward(w, in, {})), ref::reference_forward(w, in));
  EXPECT_LT(err, 1e-4);
}

// A shrunk model whose head output 4*Cout (4 x 48 for TI2V) is wider than its FFN: the head may not reuse the FFN
// buffer then (regression: this used to fail with an internal "view larger than buffer" error).
TEST(Variants, HeadWiderThanFfnMatchesReference) {
  WanConfig cfg = testing::tiny_config(Variant::TI2V_22);
  cfg.ffn_dim = 4 * cfg.out_channels - 8;
  ASSERT_GT(4 * cfg.out_channels, cfg.ffn_dim);
  const WanWeights w = testing::random_float_weights(cfg, 41);
  const WanInputs in = testing::random_inputs(cfg, inputs_for(Variant::TI2V_22), 42);
  const double err = ref::rel_l2(ref::to_doubles(wan_forward(w, in, {})), ref::reference_forward(w, in));
  EXPECT_LT(err, 1e-4);
}

// Float layers stored as bf16 or f16 (as checkpoints store them) run from that storage.
TEST(Variants, HalfPrecisionStoredWeightsMatchReference) {
  for (DType dt : {DType::BF16, DType::F16}) {
    const WanConfig cfg = testing::tiny_config(Variant::T2V_21);
    const WanWeights w = testing::random_float_weights(cfg, 31, dt);
    ASSERT_EQ(w.blocks[0].ffn_up.weight.dtype(), dt);
    const WanInputs in = testing::random_inputs(cfg, {}, 32);
    const double err = ref::rel_l2(ref::to_doubles(wan_forward(w, in, {})), ref::reference_forward(w, in));
    EXPECT_LT(err, 1e-4) << dtype_name(dt);
  }
}

}  // namespace
}  // namespace qdit::wan
