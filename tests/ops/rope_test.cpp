// rope with interleaved pairs against the rotation evaluated in float64.
#include <gtest/gtest.h>

#include <cmath>

#include "ops_test_util.h"
#include "qdit/core/error.h"
#include "qdit/ops/ops.h"

namespace qdit {
namespace {

using test_ops::Rand;

void check(int64_t t, int64_t heads, int64_t hd) {
  Rand r(static_cast<uint64_t>(t * 1009 + heads * 17 + hd));
  const int64_t half = hd / 2;
  Tensor x = test_ops::uniform_f32({t, heads * hd}, r, -2, 2);
  Tensor cos = Tensor::empty({t, half}, DType::F32), sin = Tensor::empty({t, half}, DType::F32);
  for (int64_t i = 0; i < t * half; ++i) {
    const double theta = r.uniform(-40, 40);
    cos.data<float>()[i] = static_cast<float>(std::cos(theta));
    sin.data<float>()[i] = static_cast<float>(std::sin(theta));
  }
  std::vector<double> expected(static_cast<size_t>(x.numel()));
  for (int64_t i = 0; i < t; ++i)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t p = 0; p < half; ++p) {
        const int64_t base = i * heads * hd + h * hd + 2 * p;
        const double a = x.data<float>()[base], b = x.data<float>()[base + 1];
        const double c = cos.data<float>()[i * half + p], s = sin.data<float>()[i * half + p];
        expected[base] = a * c - b * s;
        expected[base + 1] = a * s + b * c;
      }
  ops::rope(x, heads, cos, sin);
  // Each output is a two-term sum of products of magnitude <= 2: absolute error a few fp32 ulps of 2.
  test_ops::expect_close(x, expected, 0.0, 1e-6,
                         "T=" + std::to_string(t) + " heads=" + std::to_string(heads) + " hd=" + std::to_string(hd));
}

TEST(Rope, MatchesFloat64) {
  test_ops::for_each_cpu_path([] {
    for (int64_t hd : {2, 8, 14, 34, 128})
      for (int64_t heads : {1, 3})
        for (int64_t t : {1, 37}) check(t, heads, hd);
  });
}

TEST(Rope, RotatesPairsNotHalves) {
  // One head of 4: pairs (0,1) and (2,3). A quarter turn on pair 0 maps (1, 0) to (0, 1); pair 1 untouched.
  Tensor x = test_ops::f32_tensor({1, 4}, {1, 0, 5, 7});
  Tensor cos = test_ops::f32_tensor({1, 2}, {0, 1});
  Tensor sin = test_ops::f32_tensor({1, 2}, {1, 0});
  ops::rope(x, 1, cos, sin);
  EXPECT_EQ(x.data<float>()[0], 0.0f);
  EXPECT_EQ(x.data<float>()[1], 1.0f);
  EXPECT_EQ(x.data<float>()[2], 5.0f);
  EXPECT_EQ(x.data<float>()[3], 7.0f);
}

TEST(Rope, RejectsOddHeadDimsAndWrongTables) {
  Tensor x = Tensor::zeros({2, 6}, DType::F32);
  Tensor c = Tensor::zeros({2, 1}, DType::F32), s = Tensor::zeros({2, 1}, DType::F32);
  EXPECT_THROW(ops::rope(x, 2, c, s), Error);  // head_dim 3
  Tensor c3 = Tensor::zeros({2, 3}, DType::F32);
  EXPECT_THROW(ops::rope(x, 1, c3, s), Error);  // sin has the wrong shape
}

}  // namespace
}  // namespace qdit
