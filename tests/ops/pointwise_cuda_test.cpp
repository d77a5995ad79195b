// GELU (tanh, erf), SiLU, the gated residual add and RoPE on the GPU, against float64 formulas written here and
// against the CPU implementation.
#include <gtest/gtest.h>

#include <functional>

#include "ops/cuda_test_util.h"
#include "util/activation_ref.h"
#include "util/test_util.h"

namespace qdit::test {
namespace {

void check_activation(void (*op)(Tensor&), const std::function<double(double)>& f, const char* name) {
  SCOPED_TRACE(name);
  GpuScratch scratch;
  Rng rng(21);
  // Wide range (tails of tanh/erf/exp) and an odd count (no vector-width assumptions).
  Tensor x = random_normal_f32({1001, 7}, rng, 0.0, 4.0);
  x.data<float>()[0] = 0.0f;
  x.data<float>()[1] = -30.0f;
  x.data<float>()[2] = 30.0f;
  std::vector<double> ref(static_cast<size_t>(x.numel()));
  for (int64_t i = 0; i < x.numel(); ++i) ref[i] = f(x.data<float>()[i]);
  Tensor xd = to_gpu(x);
  op(xd);
  Tensor got = to_cpu(xd);
  EXPECT_LT(rel_l2(got, ref), 1e-6);
  for (int64_t i = 0; i < x.numel(); ++i)
    ASSERT_NEAR(got.data<float>()[i], ref[i], 1e-6 * (1.0 + std::fabs(ref[i]))) << "x = " << x.data<float>()[i];
  Tensor xc = x.clone();
  op(xc);
  EXPECT_LT(rel_l2(got, xc), 1e-6);
}

TEST(PointwiseCuda, Activations) {
  QDIT_REQUIRE_GPU();
  check_activation(ops::gelu_tanh, gelu_tanh_f64, "gelu_tanh");
  check_activation(ops::gelu_erf, gelu_erf_f64, "gelu_erf");
  check_activation(ops::silu, silu_f64, "silu");
}

TEST(PointwiseCuda, ResidualAddWithGroupGateAndWithoutGate) {
  QDIT_REQUIRE_GPU();
  GpuScratch scratch;
  Rng rng(22);
  const int64_t t = 12;
  // d = 77: the element-wise kernel; 128 and 1540 (385 float4s, not a multiple of the block): the float4 row kernel.
  for (int64_t d : {int64_t(77), int64_t(128), int64_t(1540)})
  for (int64_t groups : {int64_t(0), int64_t(1), int64_t(4)}) {
    SCOPED_TRACE("d=" + std::to_string(d) + " groups=" + std::to_string(groups));
    Tensor x = random_normal_f32({t, d}, rng), y = random_normal_f32({t, d}, rng);
    Tensor gate = groups ? random_normal_f32({groups, d}, rng) : Tensor();
    std::vector<double> ref(static_cast<size_t>(t * d));
    for (int64_t r = 0; r < t; ++r)
      for (int64_t c = 0; c < d; ++c) {
        double g = groups ? gate.data<float>()[(r / (t / groups)) * d + c] : 1.0;
        ref[r * d + c] = double(x.data<float>()[r * d + c]) + double(y.data<float>()[r * d + c]) * g;
      }
    Tensor xd = to_gpu(x);
    ops::residual_add(xd, to_gpu(y), groups ? to_gpu(gate) : Tensor());
    Tensor got = to_cpu(xd);
    EXPECT_LT(rel_l2(got, ref), 1e-7);
    Tensor xc = x.clone();
    ops::residual_add(xc, y, gate);
    EXPECT_LT(rel_l2(got, xc), 1e-7);
  }
}

TEST(PointwiseCuda, RopeInterleavedPairs) {
  QDIT_REQUIRE_GPU();
  GpuScratch scratch;
  Rng rng(23);
  int64_t t = 30, heads = 3, hd = 128, half = hd / 2;
  Tensor x = random_normal_f32({t, heads * hd}, rng);
  Tensor cos = Tensor::empty({t, half}, DType::F32), sin = Tensor::empty({t, half}, DType::F32);
  for (int64_t r = 0; r < t; ++r)
    for (int64_t p = 0; p < half; ++p) {
      double theta = r * std::pow(10000.0, -2.0 * p / double(hd));
      cos.data<float>()[r * half + p] = static_cast<float>(std::cos(theta));
      sin.data<float>()[r * half + p] = static_cast<float>(std::sin(theta));
    }
  std::vector<double> ref(static_cast<size_t>(x.numel()));
  for (int64_t r = 0; r < t; ++r)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t p = 0; p < half; ++p) {
        int64_t i = r * heads * hd + h * hd + 2 * p;
        double c = cos.data<float>()[r * half + p], s = sin.data<float>()[r * half + p];
        double a = x.data<float>()[i], b = x.data<float>()[i + 1];
        ref[i] = a * c - b * s;
        ref[i + 1] = a * s + b * c;
      }
  Tensor xd = to_gpu(x);
  ops::rope(xd, heads, to_gpu(cos), to_gpu(sin));
  Tensor got = to_cpu(xd);
  EXPECT_LT(rel_l2(got, ref), 1e-7);
  Tensor xc = x.clone();
  ops::rope(xc, heads, cos, sin);
  EXPECT_LT(rel_l2(got, xc), 1e-7);
}

}  // namespace
}  // namespace qdit::test
