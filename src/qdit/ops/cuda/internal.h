// Building blocks of the CUDA backend below the ops.h interface. Used by the ops themselves, by the GPU tests
// (to check the integer part of the quantized GEMMs exactly) and by the GPU benchmarks.
#pragma once
#include <cstdint>

#include "qdit/core/tensor.h"
#include "qdit/ops/ops.h"
#include "qdit/quant/linear.h"

namespace qdit::ops::cuda {

// Tokens per row of a per-group [G, D] table for `tokens` tokens (validates the table).
int64_t group_size_for(const Tensor& table, int64_t tokens, int64_t d, const char* op, const char* arg);

// dst = src converted element-wise between F32 / BF16 / F16 (round to nearest even), same shape, both on GPU.
void convert(const Tensor& src, Tensor& dst);
// dst (F32) = src (F32) rounded to bf16 and back: the values a bf16 kernel input carries.
void round_to_bf16(const Tensor& src, Tensor& dst);

// Per-token symmetric quantization: s[t] = max(max_k |x[t,k]| / qmax, FLT_EPSILON),
// xq[t,k] = clamp(rne(x[t,k] / s[t]), qmin, qmax). x F32 [T,K] -> xq I8 [T,K], s F32 [T].
void quantize_per_token(const Tensor& x, int qmin, int qmax, Tensor& xq, Tensor& s);
// Static asymmetric quantization: xq = sat8(rne(x / scale + offset)).
void quantize_static(const Tensor& x, float scale, float offset, Tensor& xq);

// acc[t,n] = sum_k a[t,k] * b[n,k] over int8 inputs, exact int32. The epilogue decides what is stored:
//   StoreS32: out I32 = acc                                  (tests: the integer part alone)
//   Dynamic:  out F32 = acc * col_scale[n] * row_scale[t] + bias[n]   (bias may be null)
//   Static:   out F32 = (acc + col_offset[n]) * col_scale[n]
enum class Int8Epilogue { StoreS32, Dynamic, Static };
struct Int8Gemm {
  const int8_t* a = nullptr;  // [M, K] activations
  const int8_t* b = nullptr;  // [N, K] weights
  int64_t m = 0, n = 0, k = 0;
  void* out = nullptr;  // [M, N]
  const float* row_scale = nullptr;
  const float* col_scale = nullptr;
  const float* bias = nullptr;
  const int32_t* col_offset = nullptr;
};
void int8_gemm(const Int8Gemm& g, Int8Epilogue e);
// The same with an explicit tiled-kernel variant (0: one 8-warp block per SM, 1: register-capped for two), for
// the benchmark's same-run comparison and the tests of both.
void int8_gemm_variant(const Int8Gemm& g, Int8Epilogue e, int variant);
// Which int8 kernel int8_gemm picks for these operands ("mma" = the tiled tensor-core kernel).
const char* int8_gemm_kernel_name(const Int8Gemm& g);

// y[T,N] (F32) = x[T,K] w[N,K]^T (+ bias[N]) through cuBLASLt with fp32 accumulation. x and w are both F32
// (true fp32 GEMM, no TF32) or both BF16.
void gemm_lt(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y);

// ops::attention with an explicit block size for the bf16 tensor-core kernel (4 or 8 warps of 16 query rows).
void attention_variant(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, float scale, Tensor& out,
                       Precision p, int flash_warps);

// W8A16 weight dequantized for the float GEMM: out[n,k] = (W_q[n,k] - z[n]) * s[n], F32 or BF16.
void dequantize_w8a16(const QuantLinear& w, Tensor& out);

}  // namespace qdit::ops::cuda
