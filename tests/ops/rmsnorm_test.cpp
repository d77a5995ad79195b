// rmsnorm over the full row against float64.
#include <gtest/gtest.h>

#include <cmath>

#include "ops_test_util.h"
#include "qdit/core/error.h"
#include "qdit/ops/ops.h"

namespace qdit {
namespace {

using test_ops::Rand;

void check(int64_t t, int64_t d) {
  Rand r(static_cast<uint64_t>(t * 131 + d));
  Tensor x = test_ops::uniform_f32({t, d}, r, -3, 3);
  Tensor w = test_ops::uniform_f32({d}, r, 0.5, 1.5);
  const float eps = 1e-6f;
  std::vector<double> expected(static_cast<size_t>(t * d));
  for (int64_t i = 0; i < t; ++i) {
    double sq = 0;
    for (int64_t j = 0; j < d; ++j) sq += double{x.data<float>()[i * d + j]} * x.data<float>()[i * d + j];
    const double rstd = 1.0 / std::sqrt(sq / d + eps);
    for (int64_t j = 0; j < d; ++j) expected[i * d + j] = x.data<float>()[i * d + j] * rstd * w.data<float>()[j];
  }
  ops::rmsnorm(x, w, eps);
  test_ops::expect_close(x, expected, 2e-6, 1e-7, "T=" + std::to_string(t) + " D=" + std::to_string(d));
}

TEST(RmsNorm, MatchesFloat64) {
  test_ops::for_each_cpu_path([] {
    for (int64_t d : {1, 7, 63, 65, 200, 5120})
      for (int64_t t : {1, 37}) check(t, d);
  });
}

TEST(RmsNorm, HandValues) {
  // x = 3, 4: mean square 12.5, so x / sqrt(12.5) * w with w = 1, 2.
  Tensor x = test_ops::f32_tensor({1, 2}, {3, 4});
  Tensor w = test_ops::f32_tensor({2}, {1, 2});
  ops::rmsnorm(x, w, 0.0f);
  EXPECT_NEAR(x.data<float>()[0], 3 / std::sqrt(12.5), 1e-6);
  EXPECT_NEAR(x.data<float>()[1], 8 / std::sqrt(12.5), 1e-6);
}

TEST(RmsNorm, RejectsWrongWeight) {
  Tensor x = Tensor::zeros({2, 8}, DType::F32);
  Tensor w = Tensor::zeros({4}, DType::F32);
  EXPECT_THROW(ops::rmsnorm(x, w, 1e-6f), Error);
}

}  // namespace
}  // namespace qdit
