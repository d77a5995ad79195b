// The per-element fp32 arithmetic of the row ops (LayerNorm, RMSNorm, RoPE, GELU-tanh), written with explicit
// round-to-nearest intrinsics so that no multiply-add is contracted behind our back. The stand-alone kernels and
// the fused ones (layernorm.cu, rmsnorm_rope.cu, gelu_input.cu) call these same functions, which is what makes
// a fused result bit-identical to the unfused sequence.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "qdit/ops/cuda/mma.cuh"  // pack_bf16
#include "qdit/ops/cuda/reduce.cuh"

namespace qdit::ops::cuda {

// Group i of four consecutive row elements as floats: fp32 as they are (16-byte aligned rows), bf16 widened exactly
// (8-byte aligned rows), so a BF16 activation gives the bytes the same values stored as F32 would.
__device__ __forceinline__ float4 load4(const float* row, int64_t i) { return reinterpret_cast<const float4*>(row)[i]; }
__device__ __forceinline__ float4 load4(const __nv_bfloat16* row, int64_t i) {
  const uint2 u = reinterpret_cast<const uint2*>(row)[i];
  const float2 a = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.x));
  const float2 b = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.y));
  return make_float4(a.x, a.y, b.x, b.y);
}

// rstd = 1 / sqrt(var + eps), each step correctly rounded.
__device__ __forceinline__ float inv_sqrt_rn(float var, float eps) {
  return __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(var, eps)));
}

// LayerNorm output element i of a row with statistics (mean, rstd).
//   mode 0: plain; 1: modulated * (1 + scale[i]) + shift[i]  (a = shift row, b = scale row);
//   2: affine * w[i] + b[i] (a = w, b = bias; either may be null).
// The same with the row's a[i], b[i] already loaded (the row-group kernel reads them as float4); has_a / has_b
// say whether the pointers were given (mode 2 may have either).
__device__ __forceinline__ float layernorm_apply(float x, float mean, float rstd, int mode, bool has_a, float av,
                                                 bool has_b, float bv) {
  float n = __fmul_rn(__fsub_rn(x, mean), rstd);
  if (mode == 1) return __fadd_rn(__fmul_rn(n, __fadd_rn(1.0f, bv)), av);
  if (mode == 2) {
    if (has_a) n = __fmul_rn(n, av);
    if (has_b) n = __fadd_rn(n, bv);
  }
  return n;
}

__device__ __forceinline__ float layernorm_value(float x, float mean, float rstd, int mode, const float* a,
                                                 const float* b, int64_t i) {
  const bool used = mode == 1 || mode == 2;
  return layernorm_apply(x, mean, rstd, mode, a != nullptr, used && a ? a[i] : 0.0f, b != nullptr,
                         used && b ? b[i] : 0.0f);
}

// 1 / sqrt(mean(row^2) + eps) of one row, block-wide (every thread gets it): each thread sums the squares of
// elements threadIdx.x, +blockDim.x, ... with fused multiply-adds, then block_sum. rmsnorm and rmsnorm_rope
// both call this with the same block size, so they get the same value bit for bit.
__device__ __forceinline__ float rms_inverse(const float* row, int64_t d, float eps, float* scratch) {
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) s = __fmaf_rn(row[i], row[i], s);
  return inv_sqrt_rn(__fdiv_rn(block_sum(s, scratch), static_cast<float>(d)), eps);
}

// RMSNorm output: x * r * w, two roundings (as the plain C++ reference).
__device__ __forceinline__ float rmsnorm_value(float x, float r, float w) { return __fmul_rn(__fmul_rn(x, r), w); }

// Interleaved-pair rotation; each product rounded on its own, as the plain C++ reference does.
__device__ __forceinline__ float2 rope_pair(float x0, float x1, float c, float s) {
  return make_float2(__fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s)), __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c)));
}

// 0.5 v (1 + tanh(sqrt(2/pi) (v + 0.044715 v^3))), evaluated left to right; accurate libdevice tanhf.
__device__ __forceinline__ float gelu_tanh_value(float v) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
  float cube = __fmul_rn(__fmul_rn(__fmul_rn(0.044715f, v), v), v);
  float inner = __fmul_rn(k, __fadd_rn(v, cube));
  return __fmul_rn(__fmul_rn(0.5f, v), __fadd_rn(1.0f, tanhf(inner)));
}

// Stores of computed fp32 values into an F32 row, or a BF16 row rounded to nearest even (the rounding a bf16
// consumer would apply itself): 4 values at index i of 4, 2 at index i of 2, 1 at index i. Alignment is the
// caller's: 16/8/4 bytes for F32, 8/4/2 for BF16.
__device__ __forceinline__ void store4(float* row, int64_t i, float4 v) { reinterpret_cast<float4*>(row)[i] = v; }
__device__ __forceinline__ void store4(__nv_bfloat16* row, int64_t i, float4 v) {
  reinterpret_cast<uint2*>(row)[i] = make_uint2(pack_bf16(v.x, v.y), pack_bf16(v.z, v.w));
}
__device__ __forceinline__ void store2(float* row, int64_t i, float2 v) { reinterpret_cast<float2*>(row)[i] = v; }
__device__ __forceinline__ void store2(__nv_bfloat16* row, int64_t i, float2 v) {
  reinterpret_cast<uint32_t*>(row)[i] = pack_bf16(v.x, v.y);
}
__device__ __forceinline__ void store1(float* row, int64_t i, float v) { row[i] = v; }
__device__ __forceinline__ void store1(__nv_bfloat16* row, int64_t i, float v) { row[i] = __float2bfloat16_rn(v); }

}  // namespace qdit::ops::cuda
