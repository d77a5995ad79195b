// residual_add against x + y * gate evaluated in float64, for every gate grouping.
#include <gtest/gtest.h>

#include "ops_test_util.h"
#include "qdit/core/error.h"
#include "qdit/ops/ops.h"

namespace qdit {
namespace {

using test_ops::Rand;

void check(int64_t t, int64_t d, int64_t groups) {
  Rand r(static_cast<uint64_t>(t * 1000 + d * 10 + groups));
  Tensor x = test_ops::uniform_f32({t, d}, r, -4, 4);
  Tensor y = test_ops::uniform_f32({t, d}, r, -4, 4);
  Tensor gate = groups > 0 ? test_ops::uniform_f32({groups, d}, r, -2, 2) : Tensor();
  std::vector<double> expected(static_cast<size_t>(t * d));
  for (int64_t i = 0; i < t; ++i)
    for (int64_t j = 0; j < d; ++j) {
      const double g = groups > 0 ? gate.data<float>()[(i / (t / groups)) * d + j] : 1.0;
      expected[i * d + j] = double{x.data<float>()[i * d + j]} + double{y.data<float>()[i * d + j]} * g;
    }
  ops::residual_add(x, y, gate);
  // Two fp32 roundings (product, sum) of values up to 12 in magnitude.
  test_ops::expect_close(x, expected, 0.0, 12 * 2.5e-7,
                         "T=" + std::to_string(t) + " D=" + std::to_string(d) + " G=" + std::to_string(groups));
}

TEST(ResidualAdd, MatchesFloat64) {
  test_ops::for_each_cpu_path([] {
    for (int64_t d : {1, 7, 63, 65, 200})
      for (int64_t t : {1, 37}) {
        check(t, d, 0);       // no gate
        check(t, d, 1);       // one timestep
        check(t, d, t);       // per token
      }
    check(36, 65, 3);  // per frame: 3 frames of 12 tokens
  });
}

TEST(ResidualAdd, UngatedIsExactSum) {
  Tensor x = test_ops::f32_tensor({1, 3}, {1.0f, -2.0f, 0.5f});
  Tensor y = test_ops::f32_tensor({1, 3}, {0.25f, 2.0f, -0.5f});
  ops::residual_add(x, y, Tensor());
  EXPECT_EQ(x.data<float>()[0], 1.25f);
  EXPECT_EQ(x.data<float>()[1], 0.0f);
  EXPECT_EQ(x.data<float>()[2], 0.0f);
}

TEST(ResidualAdd, RejectsGateGroupsThatDoNotDivideTokens) {
  Tensor x = Tensor::zeros({10, 4}, DType::F32), y = Tensor::zeros({10, 4}, DType::F32);
  Tensor gate = Tensor::zeros({3, 4}, DType::F32);
  EXPECT_THROW(ops::residual_add(x, y, gate), Error);
  Tensor wide = Tensor::zeros({1, 5}, DType::F32);
  EXPECT_THROW(ops::residual_add(x, y, wide), Error);
}

}  // namespace
}  // namespace qdit
