#include "qdit/quantize/weight_quantizer.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <random>

#include "qdit/core/half.h"

namespace qdit::quantize {
namespace {

// Round half to even written out by hand, independent of the library's nearbyint.
float rne(float x) {
  float f = std::floor(x);
  float d = x - f;
  if (d > 0.5f) return f + 1;
  if (d < 0.5f) return f;
  return std::fmod(f, 2.0f) == 0 ? f : f + 1;
}

Tensor random_weight(int64_t n, int64_t k, uint32_t seed, float stddev) {
  Tensor w = Tensor::empty({n, k}, DType::F32);
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, stddev);
  for (int64_t i = 0; i < n * k; ++i) w.data<float>()[i] = d(g);
  return w;
}

void expect_matches_reference(const Tensor& w_f32, const QuantizedWeight& q, int qmax, int qmin) {
  const int64_t n = w_f32.dim(0), k = w_f32.dim(1);
  for (int64_t r = 0; r < n; ++r) {
    float amax = 0;
    for (int64_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(w_f32.data<float>()[r * k + i]));
    const float s = std::max(amax / static_cast<float>(qmax), FLT_EPSILON);
    ASSERT_EQ(q.scale.data<float>()[r], s) << "row " << r;
    int max_abs_q = 0;
    for (int64_t i = 0; i < k; ++i) {
      const float x = w_f32.data<float>()[r * k + i];
      float want = std::min<float>(std::max<float>(rne(x / s), qmin), qmax);
      const int got = q.values.data<int8_t>()[r * k + i];
      ASSERT_EQ(got, static_cast<int>(want)) << "row " << r << " col " << i;
      // Reconstruction error of a symmetric quantizer is at most half a step.
      ASSERT_LE(std::fabs(x - got * s), 0.5f * s * (1 + 1e-5f));
      max_abs_q = std::max(max_abs_q, std::abs(got));
    }
    // The largest magnitude of a row lands exactly on qmax.
    if (amax > 0) {
      EXPECT_EQ(max_abs_q, qmax) << "row " << r;
    }
  }
}

TEST(WeightQuantizer, Int8MatchesPlainReference) {
  Tensor w = random_weight(37, 131, 1, 0.05f);
  QuantizedWeight q = quantize_weight_per_channel(w, WeightBits::Int8);
  ASSERT_EQ(q.values.shape(), (Shape{37, 131}));
  ASSERT_EQ(q.values.dtype(), DType::I8);
  ASSERT_EQ(q.scale.shape(), (Shape{37}));
  expect_matches_reference(w, q, 127, -128);
}

TEST(WeightQuantizer, Int4ValuesStayInSymmetricRange) {
  Tensor w = random_weight(19, 64, 2, 1.0f);
  QuantizedWeight q = quantize_weight_per_channel(w, WeightBits::Int4);
  expect_matches_reference(w, q, 7, -8);
  for (int64_t i = 0; i < q.values.numel(); ++i) {
    ASSERT_GE(q.values.data<int8_t>()[i], -7);
    ASSERT_LE(q.values.data<int8_t>()[i], 7);
  }
}

TEST(WeightQuantizer, HandComputedRow) {
  // max |w| = 2.54 -> s = 0.02; 1.27 / 0.02 = 63.5 -> 64 (half to even), -0.01/0.02 = -0.5 -> -0 (even).
  const float w[4] = {2.54f, -1.0f, 0.01f, -0.01f};
  int8_t q[4];
  const float s = quantize_row(w, 4, WeightBits::Int8, q);
  EXPECT_FLOAT_EQ(s, 2.54f / 127.0f);
  EXPECT_EQ(q[0], 127);
  EXPECT_EQ(q[1], static_cast<int8_t>(rne(-1.0f / s)));
  EXPECT_EQ(q[1], -50);
  EXPECT_EQ(q[2], static_cast<int8_t>(rne(0.01f / s)));
  EXPECT_EQ(q[3], -q[2]);
}

TEST(WeightQuantizer, ZeroRowGetsEpsilonScaleAndZeros) {
  Tensor w = Tensor::zeros({2, 8}, DType::F32);
  w.data<float>()[8] = 0.7f;  // row 1 non-zero
  QuantizedWeight q = quantize_weight_per_channel(w, WeightBits::Int8);
  EXPECT_EQ(q.scale.data<float>()[0], FLT_EPSILON);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(q.values.data<int8_t>()[i], 0);
  EXPECT_EQ(q.values.data<int8_t>()[8], 127);
}

TEST(WeightQuantizer, HalfInputsAreQuantizedFromTheirExactValues) {
  Tensor w = random_weight(5, 40, 3, 0.1f);
  Tensor bf = Tensor::empty({5, 40}, DType::BF16), hf = Tensor::empty({5, 40}, DType::F16);
  Tensor w_bf = w.clone(), w_hf = w.clone();
  for (int64_t i = 0; i < w.numel(); ++i) {
    bf.data<uint16_t>()[i] = f32_to_bf16(w.data<float>()[i]);
    hf.data<uint16_t>()[i] = f32_to_f16(w.data<float>()[i]);
    w_bf.data<float>()[i] = bf16_to_f32(bf.data<uint16_t>()[i]);
    w_hf.data<float>()[i] = f16_to_f32(hf.data<uint16_t>()[i]);
  }
  expect_matches_reference(w_bf, quantize_weight_per_channel(bf, WeightBits::Int8), 127, -128);
  expect_matches_reference(w_hf, quantize_weight_per_channel(hf, WeightBits::Int4), 7, -8);
}

TEST(WeightQuantizer, NonFiniteWeightIsACheckpointErrorNamingTheTensor) {
  Tensor w = random_weight(4, 16, 4, 0.1f);
  w.data<float>()[2 * 16 + 5] = NAN;
  try {
    ErrorContext ctx;
    ctx.file = "f.safetensors";
    ctx.tensor = "blocks.0.ffn.0.weight";
    quantize_weight_per_channel(w, WeightBits::Int8, ctx);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Checkpoint);
    EXPECT_NE(std::string(e.what()).find("blocks.0.ffn.0.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("output channel 2"), std::string::npos) << e.what();
  }
  w.data<float>()[2 * 16 + 5] = INFINITY;
  EXPECT_THROW(quantize_weight_per_channel(w, WeightBits::Int4), Error);
}

}  // namespace
}  // namespace qdit::quantize
