// layernorm (plain, modulated per token group, affine) against a float64 LayerNorm.
#include <gtest/gtest.h>

#include <cmath>

#include "ops_test_util.h"
#include "qdit/core/error.h"
#include "qdit/ops/ops.h"

namespace qdit {
namespace {

using test_ops::Rand;

enum class Mode { Plain, Modulated, ShiftOnly, Affine };

// out = LN(x) [* (1 + scale) + shift | * w + b] in float64; `magnitude` gets the size each error is relative to.
std::vector<double> reference(const Tensor& x, float eps, Mode mode, const Tensor& a, const Tensor& b,
                              std::vector<double>& magnitude) {
  const int64_t t = x.dim(0), d = x.dim(1);
  std::vector<double> out(static_cast<size_t>(t * d));
  magnitude.assign(out.size(), 0.0);
  for (int64_t i = 0; i < t; ++i) {
    const float* row = x.data<float>() + i * d;
    double mean = 0, var = 0;
    for (int64_t j = 0; j < d; ++j) mean += row[j];
    mean /= d;
    for (int64_t j = 0; j < d; ++j) var += (row[j] - mean) * (row[j] - mean);
    var /= d;
    const double rstd = 1.0 / std::sqrt(var + eps);
    for (int64_t j = 0; j < d; ++j) {
      const double n = (row[j] - mean) * rstd;
      double mul = 1.0, add = 0.0;
      if (mode == Mode::Modulated || mode == Mode::ShiftOnly) {
        const int64_t scale_row = mode == Mode::Modulated ? i / (t / a.dim(0)) : 0;
        mul = mode == Mode::Modulated ? 1.0 + a.data<float>()[scale_row * d + j] : 1.0;
        add = b.data<float>()[(i / (t / b.dim(0))) * d + j];
      } else if (mode == Mode::Affine) {
        mul = a.data<float>()[j];
        add = b.data<float>()[j];
      }
      out[i * d + j] = n * mul + add;
      magnitude[i * d + j] = std::fabs(n * mul) + std::fabs(add) + 1.0;
    }
  }
  return out;
}

void check(int64_t t, int64_t d, Mode mode, int64_t groups, bool in_place) {
  Rand r(static_cast<uint64_t>(t * 7919 + d * 31 + groups * 3 + static_cast<int>(mode)));
  // An offset of 3 makes the mean matter (a one-pass E[x^2] - mean^2 would lose digits).
  Tensor x = test_ops::uniform_f32({t, d}, r, 1.0, 5.0);
  Tensor a, b;
  ops::Modulation mod;
  if (mode == Mode::Modulated) {
    mod.scale = a = test_ops::uniform_f32({groups, d}, r, -0.5, 0.5);
    mod.shift = b = test_ops::uniform_f32({groups, d}, r, -1.0, 1.0);
  } else if (mode == Mode::ShiftOnly) {
    mod.shift = b = test_ops::uniform_f32({groups, d}, r, -1.0, 1.0);
  } else if (mode == Mode::Affine) {
    a = test_ops::uniform_f32({d}, r, 0.5, 1.5);
    b = test_ops::uniform_f32({d}, r, -1.0, 1.0);
  }
  const float eps = 1e-6f;
  std::vector<double> magnitude;
  const std::vector<double> expected = reference(x, eps, mode, a, b, magnitude);
  Tensor out = in_place ? x : test_ops::poisoned_f32({t, d});
  const bool use_mod = mode == Mode::Modulated || mode == Mode::ShiftOnly;
  ops::layernorm(x, mode == Mode::Affine ? a : Tensor(), mode == Mode::Affine ? b : Tensor(), use_mod ? &mod : nullptr,
                 eps, out);
  test_ops::expect_close(out, expected, 2e-6, 0.0,
                         "T=" + std::to_string(t) + " D=" + std::to_string(d) + " mode " +
                             std::to_string(static_cast<int>(mode)) + " G=" + std::to_string(groups),
                         &magnitude);
}

TEST(LayerNorm, MatchesFloat64) {
  test_ops::for_each_cpu_path([] {
    for (int64_t d : {1, 7, 63, 65, 200, 1536})
      for (int64_t t : {1, 37}) {
        check(t, d, Mode::Plain, 0, false);
        check(t, d, Mode::Modulated, 1, false);
        check(t, d, Mode::Modulated, t, false);
        check(t, d, Mode::ShiftOnly, 1, false);
        check(t, d, Mode::Affine, 0, false);
        check(t, d, Mode::Modulated, 1, true);
      }
    check(12, 65, Mode::Modulated, 4, false);  // per frame: 4 frames of 3 tokens
  });
}

TEST(LayerNorm, HandValues) {
  // x = 1,2,3,4: mean 2.5, variance 1.25, rstd 1/sqrt(1.25); modulation scale 1 doubles, shift 1 adds one.
  Tensor x = test_ops::f32_tensor({1, 4}, {1, 2, 3, 4});
  Tensor out = test_ops::poisoned_f32({1, 4});
  ops::Modulation mod{test_ops::f32_tensor({1, 4}, {1, 1, 1, 1}), test_ops::f32_tensor({1, 4}, {1, 1, 1, 1})};
  ops::layernorm(x, Tensor(), Tensor(), &mod, 0.0f, out);
  const double n[4] = {-1.5 / std::sqrt(1.25), -0.5 / std::sqrt(1.25), 0.5 / std::sqrt(1.25), 1.5 / std::sqrt(1.25)};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(out.data<float>()[i], 1.0 + 2.0 * n[i], 1e-6);
}

TEST(LayerNorm, RejectsAmbiguousOrMalformedArguments) {
  Tensor x = Tensor::zeros({4, 8}, DType::F32), out = Tensor::zeros({4, 8}, DType::F32);
  Tensor w = Tensor::zeros({8}, DType::F32), b = Tensor::zeros({8}, DType::F32);
  ops::Modulation mod{Tensor::zeros({1, 8}, DType::F32), Tensor::zeros({1, 8}, DType::F32)};
  EXPECT_THROW(ops::layernorm(x, w, b, &mod, 1e-6f, out), Error);           // affine and modulation
  EXPECT_THROW(ops::layernorm(x, Tensor(), b, nullptr, 1e-6f, out), Error);  // bias without weight
  ops::Modulation bad{Tensor::zeros({3, 8}, DType::F32), Tensor()};           // 3 groups for 4 tokens
  EXPECT_THROW(ops::layernorm(x, Tensor(), Tensor(), &bad, 1e-6f, out), Error);
  Tensor narrow = Tensor::zeros({4, 7}, DType::F32);
  EXPECT_THROW(ops::layernorm(x, Tensor(), Tensor(), nullptr, 1e-6f, narrow), Error);
}

}  // namespace
}  // namespace qdit
