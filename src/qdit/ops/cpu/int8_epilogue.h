// The fused epilogue of the vector int8 kernels on one 16-column vector of one output row, in the order of the
// contract of int8_gemm.h: (float)(acc + add) * scale [* row_scale] [+ bias], each step rounded to fp32.
#pragma once
// GCC 12.2 warns about the deliberately undefined vectors inside its own AVX-512 intrinsics (GCC PR 105593);
// the pragmas must precede the first inclusion of the intrinsics headers to reach those lines.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

namespace qdit::ops::cpu {

#define QDIT_INT8_EPILOGUE_TARGET "avx512f,avx512bw,avx512vl,avx512dq"

static inline __attribute__((always_inline, target(QDIT_INT8_EPILOGUE_TARGET))) void int8_epilogue_store(
    __m512i acc, const int32_t* add, const float* scale, const float* row_scale, const float* bias, float* y,
    __mmask16 store_mask) {
  const __m512i sum = _mm512_add_epi32(acc, _mm512_loadu_si512(add));
  __m512 v = _mm512_cvt_roundepi32_ps(sum, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  v = _mm512_mul_ps(v, _mm512_loadu_ps(scale));
  if (row_scale) v = _mm512_mul_ps(v, _mm512_set1_ps(*row_scale));
  if (bias) v = _mm512_add_ps(v, _mm512_loadu_ps(bias));
  _mm512_mask_storeu_ps(y, store_mask, v);
}

}  // namespace qdit::ops::cpu
