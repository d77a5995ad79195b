// rmsnorm_rope against RMSNorm over the full row followed by the interleaved-pair rotation, in float64.
#include <gtest/gtest.h>

#include <cmath>

#include "ops_test_util.h"
#include "qdit/core/error.h"
#include "qdit/ops/ops.h"

namespace qdit {
namespace {

using test_ops::Rand;

void check(int64_t t, int64_t heads, int64_t hd) {
  Rand r(static_cast<uint64_t>(t * 7 + heads * 1000 + hd));
  const int64_t d = heads * hd, half = hd / 2;
  Tensor x = test_ops::uniform_f32({t, d}, r, -3, 3);
  Tensor w = test_ops::uniform_f32({d}, r, 0.5, 1.5);
  Tensor cos = Tensor::empty({t, half}, DType::F32), sin = Tensor::empty({t, half}, DType::F32);
  for (int64_t i = 0; i < t * half; ++i) {
    const double theta = r.uniform(-20, 20);
    cos.data<float>()[i] = static_cast<float>(std::cos(theta));
    sin.data<float>()[i] = static_cast<float>(std::sin(theta));
  }
  const float eps = 1e-6f;
  std::vector<double> expected(static_cast<size_t>(t * d));
  for (int64_t i = 0; i < t; ++i) {
    const float* row = x.data<float>() + i * d;
    double sq = 0;
    for (int64_t j = 0; j < d; ++j) sq += double{row[j]} * row[j];
    const double rstd = 1.0 / std::sqrt(sq / d + eps);
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t p = 0; p < half; ++p) {
        const int64_t j = h * hd + 2 * p;
        const double a = row[j] * rstd * w.data<float>()[j], b = row[j + 1] * rstd * w.data<float>()[j + 1];
        const double c = cos.data<float>()[i * half + p], s = sin.data<float>()[i * half + p];
        expected[i * d + j] = a * c - b * s;
        expected[i * d + j + 1] = a * s + b * c;
      }
  }
  ops::rmsnorm_rope(x, w, eps, heads, cos, sin);
  // Normalised values are O(1) (up to ~3 * 1.5): a few fp32 ulps of that.
  test_ops::expect_close(x, expected, 0.0, 3e-6,
                         "T=" + std::to_string(t) + " heads=" + std::to_string(heads) + " hd=" + std::to_string(hd));
}

TEST(RmsNormRope, MatchesFloat64) {
  test_ops::for_each_cpu_path([] {
    for (int64_t hd : {2, 8, 14, 128})
      for (int64_t heads : {1, 3, 12})
        for (int64_t t : {1, 37}) check(t, heads, hd);
  });
}

TEST(RmsNormRope, EqualsTheTwoOpsInSequence) {
  Rand r(3);
  const int64_t t = 5, heads = 2, hd = 8;
  Tensor x = test_ops::uniform_f32({t, heads * hd}, r), w = test_ops::uniform_f32({heads * hd}, r);
  Tensor cos = test_ops::uniform_f32({t, hd / 2}, r), sin = test_ops::uniform_f32({t, hd / 2}, r);
  Tensor y = x.clone();
  ops::rmsnorm_rope(x, w, 1e-6f, heads, cos, sin);
  ops::rmsnorm(y, w, 1e-6f);
  ops::rope(y, heads, cos, sin);
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(x.data<float>()[i], y.data<float>()[i]) << i;
}

TEST(RmsNormRope, RejectsMalformedArguments) {
  Tensor x = Tensor::zeros({2, 12}, DType::F32), w = Tensor::zeros({12}, DType::F32);
  Tensor c = Tensor::zeros({2, 3}, DType::F32), s = Tensor::zeros({2, 3}, DType::F32);
  EXPECT_THROW(ops::rmsnorm_rope(x, w, 1e-6f, 3, c, s), Error);  // head_dim 4 needs [2, 2] tables
  Tensor w_short = Tensor::zeros({11}, DType::F32);
  EXPECT_THROW(ops::rmsnorm_rope(x, w_short, 1e-6f, 2, c, s), Error);
}

}  // namespace
}  // namespace qdit
