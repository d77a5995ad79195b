// The float GEMM of Float and W8A16 layers: y[M,N] = x[M,K] w[N,K]^T (+ bias[N]) through oneDNN's fp32 matmul,
// with the weights reordered once into oneDNN's blocked layout (its AVX-512 brgemm).
//   FP32: fp32 inputs, fp32 accumulation.
//   BF16: x and w rounded to bf16 values (round to nearest even) but kept in fp32 storage, fp32 accumulation.
//         Products of two bf16 values are exact in fp32, so this is exactly a bf16 GEMM with fp32 accumulation.
//         oneDNN 2.6's own bf16 (AMX) matmul is not used: it returned wrong sums for some shapes (K=63, M=37)
//         and raised SIGILL for others (K=1) on this machine.
// The accumulation order inside the GEMM is oneDNN's; the tests bound the difference to a float64 reference.
#pragma once
#include <cstdint>

#include "qdit/core/tensor.h"
#include "qdit/ops/cpu/dnnl_context.h"

namespace qdit::ops::cpu {

class FloatGemm {
 public:
  // weight: F32 [N, K], the values multiplied (for BF16 already rounded to bf16 values by the caller).
  // bias: F32 [N] or undefined. bf16: round the activations to bf16 values before the GEMM.
  FloatGemm(const Tensor& weight, const Tensor& bias, bool bf16);
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

// dst[i] = src[i] rounded to the nearest bf16 value (ties to even), kept as fp32; n elements, threaded.
// dst may equal src.
void round_to_bf16_values(const float* src, int64_t n, float* dst);

}  // namespace qdit::ops::cpu
