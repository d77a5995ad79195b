// AVX-512 building blocks shared by the CPU kernels: exp/tanh/sigmoid on 16 fp32 lanes, bf16 rounding, masks
// for row tails. Everything here is compiled for AVX-512 through target attributes and may only be called from
// functions compiled the same way, after cpu_features.h said the CPU has it.
#pragma once
// GCC 12.2 warns about the deliberately undefined vectors inside its own AVX-512 intrinsics (GCC PR 105593);
// the pragmas must precede the first inclusion of the intrinsics headers to reach those lines.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#define QDIT_AVX512_TARGET "avx512f,avx512bw,avx512vl,avx512dq,fma"
// A kernel function compiled for AVX-512.
#define QDIT_AVX512 __attribute__((target(QDIT_AVX512_TARGET)))
// A helper inlined into AVX-512 kernels.
#define QDIT_AVX512_INLINE static inline __attribute__((always_inline, target(QDIT_AVX512_TARGET)))

namespace qdit::ops::cpu::vec {

// Lanes [0, n) of a 16-lane vector, n in [0, 16].
QDIT_AVX512_INLINE __mmask16 tail_mask(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

// exp(x) per lane. Range reduction x = n*ln2 + r with a two-constant ln2 (Cody-Waite) so r is exact to fp32,
// |r| <= ln2/2; exp(r) by its degree-7 Taylor polynomial (truncation 6e-9 relative, below fp32 rounding);
// 2^n applied by vscalefps, which saturates to +inf / 0 correctly. The clamp keeps n in scalef's useful range;
// min/max take the constant first so a NaN input propagates (x86 min/max return the second operand on NaN).
QDIT_AVX512_INLINE __m512 exp(__m512 x) {
  x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
  x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// tanh(u) = 1 - 2 / (exp(2u) + 1): exact limits (+-1) for large |u| because exp saturates to inf / 0.
QDIT_AVX512_INLINE __m512 tanh(__m512 u) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 e = exp(_mm512_add_ps(u, u));
  return _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
}

// Rounds each lane to the nearest bf16 (ties to even) and back to fp32: the value a bf16 GEMM input carries.
// Same rule as core/half.h f32_to_bf16, NaN kept quiet.
QDIT_AVX512_INLINE __m512 round_to_bf16(__m512 x) {
  const __m512i b = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_add_epi32(b, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
  r = _mm512_and_si512(r, _mm512_set1_epi32(static_cast<int>(0xffff0000u)));
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  const __m512i quiet = _mm512_and_si512(_mm512_or_si512(b, _mm512_set1_epi32(0x00400000)),
                                         _mm512_set1_epi32(static_cast<int>(0xffff0000u)));
  return _mm512_castsi512_ps(_mm512_mask_blend_epi32(nan, r, quiet));
}

}  // namespace qdit::ops::cpu::vec
