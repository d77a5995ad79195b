// Every int8 GEMM kernel against an int64 reference: the integer part exactly, the fused epilogue within 1e-6
// relative (float64 evaluation of the same formula), and exactness when the VNNI kernel's partial sums wrap.
#include <gtest/gtest.h>

#include <cmath>

#include "ops_test_util.h"
#include "qdit/ops/cpu/act_quant.h"
#include "qdit/ops/cpu/int8_gemm.h"

namespace qdit {
namespace {

using ops::cpu::Int8ActBuffer;
using ops::cpu::Int8Gemm;
using ops::cpu::Int8GemmSpec;
using ops::cpu::Int8Kernel;

std::vector<Int8Kernel> available_kernels() {
  std::vector<Int8Kernel> out;
  for (Int8Kernel k : {Int8Kernel::Scalar, Int8Kernel::Vnni, Int8Kernel::Amx, Int8Kernel::OneDnn})
    if (ops::cpu::int8_kernel_available(k)) out.push_back(k);
  return out;
}

// Codes given as floats quantize to themselves (scale 1, offset 0), in the kernel's layout.
void codes_to_buffer(const std::vector<float>& codes, int64_t m, int64_t k, Int8Kernel kernel, Int8ActBuffer& b) {
  ops::cpu::quantize_static(codes.data(), m, k, 1.0f, 0.0f, ops::cpu::int8_act_layout(kernel), b);
}

Tensor random_weight(int64_t n, int64_t k, test_ops::Rand& r, int lo, int hi) {
  Tensor w = Tensor::empty({n, k}, DType::I8);
  for (int64_t i = 0; i < n * k; ++i) w.data<int8_t>()[i] = static_cast<int8_t>(r.integer(lo, hi));
  return w;
}

std::vector<int64_t> reference_acc(const std::vector<float>& a, const Tensor& w, int64_t m) {
  const int64_t n = w.dim(0), k = w.dim(1);
  std::vector<int64_t> acc(static_cast<size_t>(m * n), 0);
  for (int64_t t = 0; t < m; ++t)
    for (int64_t c = 0; c < n; ++c)
      for (int64_t i = 0; i < k; ++i)
        acc[t * n + c] += static_cast<int64_t>(a[t * k + i]) * w.data<int8_t>()[c * k + i];
  return acc;
}

// y[m, n] = the integer accumulations of codes a [m, k] against w through `kernel`, every scale 1 (poisoned first,
// so an unwritten output shows).
Tensor run_unit_scale(Int8Kernel kernel, const std::vector<float>& a, const Tensor& w, int64_t m) {
  const int64_t n = w.dim(0), k = w.dim(1);
  Int8GemmSpec spec;
  spec.weight = w;
  spec.col_scale.assign(n, 1.0f);
  auto gemm = ops::cpu::make_int8_gemm(kernel, spec);
  Int8ActBuffer b;
  codes_to_buffer(a, m, k, kernel, b);
  Tensor y = test_ops::poisoned_f32({m, n});
  gemm->run(b.view(), nullptr, y.data<float>());
  return y;
}

TEST(Int8Gemm, IntegerPartIsExact) {
  test_ops::Rand r(5);
  for (Int8Kernel kernel : available_kernels()) {
    SCOPED_TRACE(ops::cpu::int8_kernel_name(kernel));
    for (int64_t k : {1, 7, 63, 65, 200, 1000})
      for (int64_t n : {1, 17, 64, 100})
        for (int64_t m : {1, 5, 37, 70}) {
          std::vector<float> a(static_cast<size_t>(m * k));
          for (float& v : a) v = static_cast<float>(r.integer(-128, 127));
          Tensor w = random_weight(n, k, r, -128, 127);
          const Tensor y = run_unit_scale(kernel, a, w, m);
          // |acc| <= 1000 * 128 * 128 < 2^24: every sum is exactly representable, so y must equal it.
          const std::vector<int64_t> acc = reference_acc(a, w, m);
          for (int64_t i = 0; i < m * n; ++i)
            ASSERT_EQ(y.data<float>()[i], static_cast<float>(acc[i]))
                << "M=" << m << " N=" << n << " K=" << k << " at " << i;
        }
  }
}

TEST(Int8Gemm, ShapesSpanningSeveralTasksAndThreads) {
  // Several row tasks (256 rows) and column tasks (up to 384 columns) of the AMX kernel, several row blocks of
  // the VNNI kernel, ragged edges everywhere.
  test_ops::Rand r(6);
  const int64_t m = 600, n = 803, k = 200;
  std::vector<float> a(static_cast<size_t>(m * k));
  for (float& v : a) v = static_cast<float>(r.integer(-128, 127));
  Tensor w = random_weight(n, k, r, -128, 127);
  const std::vector<int64_t> acc = reference_acc(a, w, m);
  for (Int8Kernel kernel : available_kernels()) {
    SCOPED_TRACE(ops::cpu::int8_kernel_name(kernel));
    const Tensor y = run_unit_scale(kernel, a, w, m);
    for (int64_t i = 0; i < m * n; ++i) ASSERT_EQ(y.data<float>()[i], static_cast<float>(acc[i])) << "at " << i;
  }
}

TEST(Int8Gemm, FusedEpilogueMatchesFloat64) {
  test_ops::Rand r(9);
  for (Int8Kernel kernel : available_kernels()) {
    SCOPED_TRACE(ops::cpu::int8_kernel_name(kernel));
    for (int64_t k : {7, 65, 200})
      for (int64_t n : {17, 100})
        for (int64_t m : {1, 37})
          for (int variant = 0; variant < 3; ++variant) {
            // 0: static (col_add, col_scale); 1: dynamic with bias; 2: dynamic without bias.
            std::vector<float> a(static_cast<size_t>(m * k));
            for (float& v : a) v = static_cast<float>(r.integer(-128, 127));
            Tensor w = random_weight(n, k, r, -128, 127);
            Int8GemmSpec spec;
            spec.weight = w;
            for (int64_t c = 0; c < n; ++c) {
              spec.col_scale.push_back(static_cast<float>(r.uniform(1e-5, 1e-3)));
              if (variant == 0) spec.col_add.push_back(static_cast<int32_t>(r.integer(-100000, 100000)));
              if (variant == 1) spec.bias.push_back(static_cast<float>(r.uniform(-2, 2)));
            }
            std::vector<float> rs;
            for (int64_t t = 0; t < m; ++t) rs.push_back(static_cast<float>(r.uniform(1e-3, 5e-2)));
            auto gemm = ops::cpu::make_int8_gemm(kernel, spec);
            Int8ActBuffer b;
            codes_to_buffer(a, m, k, kernel, b);
            Tensor y = test_ops::poisoned_f32({m, n});
            gemm->run(b.view(), variant == 0 ? nullptr : rs.data(), y.data<float>());
            const std::vector<int64_t> acc = reference_acc(a, w, m);
            std::vector<double> expected, magnitude;
            for (int64_t t = 0; t < m; ++t)
              for (int64_t c = 0; c < n; ++c) {
                double v = static_cast<double>(acc[t * n + c] + (variant == 0 ? spec.col_add[c] : 0)) *
                           spec.col_scale[c];
                if (variant != 0) v *= rs[t];
                const double b_term = variant == 1 ? spec.bias[c] : 0.0;
                expected.push_back(v + b_term);
                magnitude.push_back(std::fabs(v) + std::fabs(b_term));
              }
            test_ops::expect_close(y, expected, 1e-6, 0.0,
                                   "M=" + std::to_string(m) + " N=" + std::to_string(n) + " K=" + std::to_string(k) +
                                       " variant " + std::to_string(variant),
                                   &magnitude);
          }
  }
}

TEST(Int8Gemm, ExactWhenPartialSumsWrap) {
  // K = 100000 with extreme codes: true sums up to 1.64e9 fit in int32, but the VNNI kernel's u8 partial sums
  // (codes + 128) reach 3.2e9 and wrap; the modulo-2^32 correction must still give the exact result.
  const int64_t k = 100000, n = 16, m = 3;
  std::vector<float> a(static_cast<size_t>(m * k));
  for (int64_t i = 0; i < k; ++i) {
    a[i] = 127;
    a[k + i] = -128;
    a[2 * k + i] = -128;
  }
  Tensor w = Tensor::empty({n, k}, DType::I8);
  for (int64_t c = 0; c < n; ++c)
    for (int64_t i = 0; i < k; ++i) w.data<int8_t>()[c * k + i] = static_cast<int8_t>(c % 2 ? 127 : -128);
  for (Int8Kernel kernel : available_kernels()) {
    SCOPED_TRACE(ops::cpu::int8_kernel_name(kernel));
    const Tensor y = run_unit_scale(kernel, a, w, m);
    for (int64_t t = 0; t < m; ++t)
      for (int64_t c = 0; c < n; ++c) {
        const int64_t acc = k * static_cast<int64_t>(a[t * k]) * (c % 2 ? 127 : -128);
        ASSERT_LT(std::llabs(acc), int64_t{1} << 31);
        EXPECT_EQ(y.data<float>()[t * n + c], static_cast<float>(acc)) << "t=" << t << " c=" << c;
      }
  }
}

TEST(Int8Gemm, KernelSelection) {
  EXPECT_TRUE(ops::cpu::int8_kernel_available(Int8Kernel::Scalar));
  ops::cpu::set_int8_kernel(Int8Kernel::Scalar);
  EXPECT_EQ(ops::cpu::active_int8_kernel(), Int8Kernel::Scalar);
  ops::cpu::set_int8_kernel(std::nullopt);
  EXPECT_TRUE(ops::cpu::int8_kernel_available(ops::cpu::active_int8_kernel()));
}

}  // namespace
}  // namespace qdit
