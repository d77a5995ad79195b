// In-place rotary embedding with interleaved pairs: for each head and pair p of a token,
//   x'[2p] = x[2p] cos - x[2p+1] sin,   x'[2p+1] = x[2p] sin + x[2p+1] cos,
// with cos/sin taken from row t of the [T, head_dim/2] tables (the same angles for every head).
#include <algorithm>

#include "qdit/core/parallel.h"
#include "qdit/ops/cpu/cpu_features.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/cpu/row_kernels.h"
#include "qdit/ops/cpu/vec_math.h"

namespace qdit::ops::cpu {

namespace {

// 16 lanes = 8 pairs. Each table value is duplicated onto its pair's two lanes; the pair-swapped x times sin is
// subtracted on even lanes and added on odd lanes by one fmaddsub.
QDIT_AVX512 void rope_row_avx512(float* x, const float* c, const float* s, int64_t heads, int64_t hd) {
  const __m512i dup = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
  const int64_t half = hd / 2;
  for (int64_t p = 0; p < half; p += 8) {
    const __mmask16 pm = vec::tail_mask(std::min<int64_t>(8, half - p));
    const __mmask16 m = vec::tail_mask(2 * std::min<int64_t>(8, half - p));
    const __m512 cv = _mm512_permutexvar_ps(dup, _mm512_maskz_loadu_ps(pm, c + p));
    const __m512 sv = _mm512_permutexvar_ps(dup, _mm512_maskz_loadu_ps(pm, s + p));
    for (int64_t h = 0; h < heads; ++h) {
      float* xh = x + h * hd + 2 * p;
      const __m512 v = _mm512_maskz_loadu_ps(m, xh);
      const __m512 swapped = _mm512_permute_ps(v, 0xB1);
      _mm512_mask_storeu_ps(xh, m, _mm512_fmaddsub_ps(v, cv, _mm512_mul_ps(swapped, sv)));
    }
  }
}

void rope_row_scalar(float* x, const float* c, const float* s, int64_t heads, int64_t hd) {
  for (int64_t h = 0; h < heads; ++h) {
    float* xh = x + h * hd;
    for (int64_t p = 0; p < hd / 2; ++p) {
      const float a = xh[2 * p], b = xh[2 * p + 1];
      xh[2 * p] = a * c[p] - b * s[p];
      xh[2 * p + 1] = a * s[p] + b * c[p];
    }
  }
}

}  // namespace

void rope_row(float* x, const float* cos, const float* sin, int64_t heads, int64_t hd, bool avx512) {
  if (avx512)
    rope_row_avx512(x, cos, sin, heads, hd);
  else
    rope_row_scalar(x, cos, sin, heads, hd);
}

void rope(Tensor& x, int64_t heads, const Tensor& cos, const Tensor& sin) {
  const int64_t t = x.dim(0), hd = x.dim(1) / heads, half = hd / 2;
  float* xp = x.data<float>();
  const float* cp = cos.data<float>();
  const float* sp = sin.data<float>();
  const bool avx512 = has_avx512();
  parallel_for(t, std::max<int64_t>(1, 4096 / x.dim(1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) rope_row(xp + r * x.dim(1), cp + r * half, sp + r * half, heads, hd, avx512);
  });
}

}  // namespace qdit::ops::cpu
