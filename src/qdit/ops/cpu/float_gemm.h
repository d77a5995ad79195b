// The float GEMM of Float and W8A16 layers: y[M,N] = x[M,K] w[N,K]^T (+ bias[N]) through oneDNN's matmul, with
// the weights reordered once into oneDNN's blocked layout (brgemm on AVX-512; AMX for bf16 where present).
//   FP32: fp32 inputs, fp32 accumulation.
//   BF16: x and w rounded to bf16 (round to nearest even), fp32 accumulation, fp32 output and bias.
// The accumulation order inside the GEMM is oneDNN's; the tests bound the difference to a float64 reference.
#pragma once
#include <cstdint>

#include "qdit/core/tensor.h"
#include "qdit/ops/cpu/dnnl_context.h"

namespace qdit::ops::cpu {

class FloatGemm {
 public:
  // weight: F32 [N, K] for FP32, BF16 [N, K] for BF16 (already rounded: the caller decides what is multiplied).
  // bias: F32 [N] or undefined.
  FloatGemm(const Tensor& weight, const Tensor& bias);
  bool bf16() const { return bf16_; }
  int64_t n() const { return n_; }
  int64_t k() const { return k_; }
  // x: [m, K] row-major fp32 (rounded to bf16 inside when bf16()); y: [m, N].
  void run(const float* x, int64_t m, float* y) const;

 private:
  dnnl::matmul::primitive_desc make_pd(int64_t m, const dnnl::memory::desc& weights) const;

  int64_t n_ = 0, k_ = 0;
  bool bf16_ = false;
  bool has_bias_ = false;
  dnnl::memory::desc weights_desc_;
  dnnl::memory packed_;
  dnnl::memory bias_;
  MatmulCache cache_;
};

// dst[i] = bf16(src[i]) (round to nearest even), n elements, threaded.
void round_rows_to_bf16(const float* src, int64_t n, uint16_t* dst);

}  // namespace qdit::ops::cpu
