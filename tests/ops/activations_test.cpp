// gelu_tanh, gelu_erf and silu against their formulas evaluated in float64.
#include <gtest/gtest.h>

#include <cmath>

#include "ops_test_util.h"
#include "qdit/core/error.h"
#include "qdit/ops/ops.h"
#include "util/activation_ref.h"

namespace qdit {
namespace {

using test_ops::Rand;

using test::gelu_erf_f64;
using test::gelu_tanh_f64;
using test::silu_f64;

template <typename Op, typename Ref>
void check(Op op, Ref ref, const char* name) {
  test_ops::for_each_cpu_path([&] {
    Rand r(7);
    for (Shape shape : {Shape{1, 1}, Shape{1, 7}, Shape{37, 63}, Shape{3, 65}, Shape{37, 200}, Shape{4, 3, 5}}) {
      Tensor x = test_ops::uniform_f32(shape, r, -6.0, 6.0);
      // Far tails: saturation must be exact limits, not NaN or overflow.
      x.data<float>()[0] = -60.0f;
      if (x.numel() > 1) x.data<float>()[1] = 60.0f;
      if (x.numel() > 2) x.data<float>()[2] = 0.0f;
      std::vector<double> expected, magnitude;
      for (double v : test_ops::as_doubles(x)) {
        expected.push_back(ref(v));
        magnitude.push_back(std::fabs(v));
      }
      op(x);
      // Relative to |x|: 0.5 x (1 + tanh/erf) cancels for negative x in any fp32 evaluation, so the error
      // there is bounded by |x| * 2^-24, not by the (tiny) result.
      test_ops::expect_close(x, expected, 1e-6, 1e-12, std::string(name) + " " + shape_str(shape), &magnitude);
    }
  });
}

TEST(Activations, GeluTanhMatchesFloat64) { check([](Tensor& x) { ops::gelu_tanh(x); }, gelu_tanh_f64, "gelu_tanh"); }
TEST(Activations, GeluErfMatchesFloat64) { check([](Tensor& x) { ops::gelu_erf(x); }, gelu_erf_f64, "gelu_erf"); }
TEST(Activations, SiluMatchesFloat64) { check([](Tensor& x) { ops::silu(x); }, silu_f64, "silu"); }

TEST(Activations, HandValues) {
  // gelu_tanh(1) = 0.5 (1 + tanh(0.7978845608 * 1.044715)) = 0.841191990607..., silu(1) = 1 / (1 + e^-1).
  Tensor a = test_ops::f32_tensor({1, 2}, {1.0f, -1.0f});
  ops::gelu_tanh(a);
  EXPECT_NEAR(a.data<float>()[0], 0.8411919906082768, 1e-6);
  EXPECT_NEAR(a.data<float>()[1], -0.15880800939172324, 1e-6);
  Tensor s = test_ops::f32_tensor({1, 1}, {1.0f});
  ops::silu(s);
  EXPECT_NEAR(s.data<float>()[0], 0.7310585786300049, 1e-7);
  Tensor e = test_ops::f32_tensor({1, 1}, {1.0f});
  ops::gelu_erf(e);
  EXPECT_NEAR(e.data<float>()[0], 0.8413447460685429, 1e-7);
}

TEST(Activations, RejectsNonF32) {
  Tensor x = Tensor::zeros({2, 2}, DType::I32);
  EXPECT_THROW(ops::silu(x), Error);
}

}  // namespace
}  // namespace qdit
