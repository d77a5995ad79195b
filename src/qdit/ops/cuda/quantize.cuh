// The per-element arithmetic of activation quantization (modelslim-format.md §3.1, §3.3), shared by the
// stand-alone quantize kernels (quantize.cu) and the producers that quantize a row while computing it
// (layernorm_input.cu, gelu_input.cu): one definition, so fused and unfused paths give the same bytes.
#pragma once
#include <cfloat>
#include <cstdint>

#include <cuda_runtime.h>

namespace qdit::ops::cuda {

__device__ __forceinline__ int8_t clamp_round(float v, float lo, float hi) {
  // fmaxf first so a NaN lands on lo instead of an undefined float->int conversion.
  return static_cast<int8_t>(static_cast<int>(fminf(fmaxf(rintf(v), lo), hi)));
}

// s_t = max(absmax / qmax, FLT_EPSILON), exact division.
__device__ __forceinline__ float per_token_scale(float absmax, float qmax) {
  return fmaxf(__fdiv_rn(absmax, qmax), FLT_EPSILON);
}

// clamp_round(x / scale) with a multiply by inv = RN(1 / scale) instead of the division, same result bit for bit.
// q = RN(x * inv) is within 2^-23 relative of x / scale, and |x / scale| <= qmax (1 + 2^-24) <= 128 because
// scale >= RN(absmax / qmax); so |q - x / scale| <= 2^-16, and rintf can tell them apart only when q lies within
// that distance of a half-integer h = floor(q) + 0.5 (one value in 8000 from fp32 data, one in 400 from bf16
// data, whose coarse grid lands on halves often). There the reference's rintf(RN(x / scale)) is decided
// exactly without dividing: RN(x / scale) == h exactly when |x - h * scale| <= (ulp(h) / 2) * scale (h is even
// in its ulp grid, so the tie at that bound also goes to h), and rintf(h) rounds half to even; otherwise
// RN(x / scale) lies on the side of h that x - h * scale says, and rounds to that side's integer. The fma gives
// x - h * scale exactly here (a multiple of scale * 2^-25 no larger than a few ulps of h times scale), and
// (ulp(h) / 2) * scale is a power-of-two multiple of scale. (Checked against the division on 2e8 values, 6.5e7
// of them near halves, none different: the GPU test PerTokenQuantizationAtRoundingTies checks the kernels.)
// (The division it replaces is a long subroutine a warp runs when any lane needs it: 28 % of the warps on bf16
// data.) NaN and infinities take the same path as with the division (NaN -> qmin, x / inf -> 0).
__device__ __forceinline__ int8_t quantize_by_reciprocal(float x, float scale, float inv, float lo, float hi) {
  float q = __fmul_rn(x, inv);
  if (fabsf(fabsf(q - truncf(q)) - 0.5f) <= 0x1p-14f) {
    const float h = floorf(q) + 0.5f;
    const float r = __fmaf_rn(-h, scale, x);
    const float half_ulp = __uint_as_float((__float_as_uint(fabsf(h)) & 0x7F800000u) - (24u << 23));
    q = fabsf(r) <= __fmul_rn(half_ulp, scale) ? h : (r < 0.f ? h - 0.25f : h + 0.25f);
  }
  return clamp_round(q, lo, hi);
}

// Four int8 values in one word, a in the lowest byte (the order they sit in memory): one 4-byte store.
__device__ __forceinline__ uint32_t pack_int8x4(int a, int b, int c, int d) {
  return uint32_t(uint8_t(a)) | uint32_t(uint8_t(b)) << 8 | uint32_t(uint8_t(c)) << 16 | uint32_t(uint8_t(d)) << 24;
}

// Static W8A8: sat8(rne(x / scale + offset)), exact division.
__device__ __forceinline__ int8_t quantize_static_value(float x, float scale, float offset) {
  return clamp_round(__fadd_rn(__fdiv_rn(x, scale), offset), -128.0f, 127.0f);
}

}  // namespace qdit::ops::cuda
