#include "qdit/quantize/static_w8a8.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>

#include "qdit/quantize/weight_quantizer.h"

namespace qdit::quantize {
namespace {

ActivationRange range_of(std::initializer_list<float> xs) {
  std::vector<float> v(xs);
  ActivationRange r;
  r.observe(v.data(), static_cast<int64_t>(v.size()));
  return r;
}

TEST(StaticW8A8, HandComputedActivationParams) {
  // [-1, 3]: s = 4/255, o = round(1 / (4/255)) - 128 = round(63.75) - 128 = -64.
  StaticActivationParams p = static_activation_params(range_of({-1.0f, 0.5f, 3.0f}));
  EXPECT_FLOAT_EQ(p.scale, 4.0f / 255.0f);
  EXPECT_EQ(p.offset, -64.0f);
  // All positive: the range is widened to include 0, so o = -128 and 0 maps to -128.
  p = static_activation_params(range_of({0.5f, 2.0f}));
  EXPECT_FLOAT_EQ(p.scale, 2.0f / 255.0f);
  EXPECT_EQ(p.offset, -128.0f);
  // All negative: hi = 0, o = round(255) - 128 = 127.
  p = static_activation_params(range_of({-2.0f, -0.25f}));
  EXPECT_FLOAT_EQ(p.scale, 2.0f / 255.0f);
  EXPECT_EQ(p.offset, 127.0f);
  // Nothing but zeros: the scale is floored at fp32 epsilon.
  p = static_activation_params(range_of({0.0f, 0.0f}));
  EXPECT_EQ(p.scale, FLT_EPSILON);
  EXPECT_EQ(p.offset, -128.0f);
}

TEST(StaticW8A8, RangeMergesAcrossRunsAndFlagsNonFinite) {
  ActivationRange a = range_of({1.0f, 2.0f}), b = range_of({-3.0f, 0.5f}), empty;
  a.merge(empty);
  EXPECT_EQ(a.samples, 2);
  a.merge(b);
  EXPECT_EQ(a.min, -3.0f);
  EXPECT_EQ(a.max, 2.0f);
  EXPECT_EQ(a.samples, 4);
  EXPECT_FALSE(a.nonfinite);
  ActivationRange c = range_of({NAN, 5.0f});
  EXPECT_TRUE(c.nonfinite);
  EXPECT_EQ(c.min, 5.0f);
  EXPECT_EQ(c.samples, 1);
}

TEST(StaticW8A8, HandComputedFold) {
  // W_q rows {10, -20, 30} and {-1, -1, -1}; s_w = {0.5, 0.25}; s_x = 0.1, o_x = -3; bias {1.0, -2.0}.
  Tensor q = Tensor::empty({2, 3}, DType::I8);
  const int8_t qv[6] = {10, -20, 30, -1, -1, -1};
  std::memcpy(q.raw(), qv, 6);
  Tensor sw = Tensor::empty({2}, DType::F32);
  sw.data<float>()[0] = 0.5f;
  sw.data<float>()[1] = 0.25f;
  Tensor b = Tensor::empty({2}, DType::F32);
  b.data<float>()[0] = 1.0f;
  b.data<float>()[1] = -2.0f;
  StaticFold f = fold_static_w8a8(q, sw, b, {0.1f, -3.0f});
  EXPECT_FLOAT_EQ(f.deq_scale.data<float>()[0], 0.05f);
  EXPECT_FLOAT_EQ(f.deq_scale.data<float>()[1], 0.025f);
  // 1/0.05 - (-3)*20 = 20 + 60 = 80 ; -2/0.025 - (-3)*(-3) = -80 - 9 = -89
  EXPECT_EQ(f.quant_bias.data<int32_t>()[0], 80);
  EXPECT_EQ(f.quant_bias.data<int32_t>()[1], -89);
  // Without a bias only the offset correction remains.
  StaticFold g = fold_static_w8a8(q, sw, Tensor(), {0.1f, -3.0f});
  EXPECT_EQ(g.quant_bias.data<int32_t>()[0], 60);
  EXPECT_EQ(g.quant_bias.data<int32_t>()[1], -9);
}

// The fold's purpose: the integer pipeline reproduces x W^T + b. Checked against a float64 evaluation.
TEST(StaticW8A8, IntegerPipelineReproducesTheFloatLayer) {
  const int64_t n = 24, k = 96, t = 16;
  std::mt19937 g(7);
  std::normal_distribution<float> wd(0.0f, 1.0f / std::sqrt(float(k))), xd(0.3f, 1.0f);
  Tensor w = Tensor::empty({n, k}, DType::F32), b = Tensor::empty({n}, DType::F32);
  for (int64_t i = 0; i < n * k; ++i) w.data<float>()[i] = wd(g);
  for (int64_t i = 0; i < n; ++i) b.data<float>()[i] = 0.1f * xd(g);
  std::vector<float> x(t * k);
  for (auto& v : x) v = xd(g);
  ActivationRange r;
  r.observe(x.data(), t * k);
  StaticActivationParams act = static_activation_params(r);
  QuantizedWeight qw = quantize_weight_per_channel(w, WeightBits::Int8);
  StaticFold f = fold_static_w8a8(qw.values, qw.scale, b, act);
  double err2 = 0, ref2 = 0;
  for (int64_t ti = 0; ti < t; ++ti) {
    for (int64_t ni = 0; ni < n; ++ni) {
      int64_t acc = 0;
      double ref = b.data<float>()[ni];
      for (int64_t ki = 0; ki < k; ++ki) {
        const double xq = std::clamp(std::nearbyint(x[ti * k + ki] / act.scale + act.offset), -128.0f, 127.0f);
        acc += static_cast<int64_t>(xq) * qw.values.data<int8_t>()[ni * k + ki];
        ref += double(x[ti * k + ki]) * w.data<float>()[ni * k + ki];
      }
      const double y = double(acc + f.quant_bias.data<int32_t>()[ni]) * f.deq_scale.data<float>()[ni];
      err2 += (y - ref) * (y - ref);
      ref2 += ref * ref;
    }
  }
  const double rel = std::sqrt(err2 / ref2);
  EXPECT_LT(rel, 0.02) << "relative error " << rel;
  EXPECT_GT(rel, 0.0);
}

TEST(StaticW8A8, QuantBiasOverflowIsAnErrorNotASaturation) {
  Tensor q = Tensor::zeros({1, 4}, DType::I8);
  Tensor sw = Tensor::empty({1}, DType::F32);
  sw.data<float>()[0] = 1e-6f;
  Tensor b = Tensor::empty({1}, DType::F32);
  b.data<float>()[0] = 1e6f;
  try {
    ErrorContext ctx;
    ctx.layer = "blocks.0.attn1.to_q";
    fold_static_w8a8(q, sw, b, {1e-6f, 0.0f}, ctx);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Checkpoint);
    EXPECT_NE(std::string(e.what()).find("blocks.0.attn1.to_q"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qdit::quantize
