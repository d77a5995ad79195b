// In-place RMSNorm over each token's full row (all heads together, as Wan's q/k norms):
// x = (x * rstd) * w with rstd = 1/sqrt(sum(x^2)/D + eps), statistics in fp32.
#include <algorithm>
#include <cmath>

#include "qdit/core/parallel.h"
#include "qdit/ops/cpu/cpu_features.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/cpu/row_kernels.h"
#include "qdit/ops/cpu/row_sum.h"
#include "qdit/ops/cpu/vec_math.h"

namespace qdit::ops::cpu {

namespace {

QDIT_AVX512 void rmsnorm_row_avx512(float* x, const float* w, int64_t d, float eps) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < d; i += 16) {
    const __m512 v = _mm512_maskz_loadu_ps(vec::tail_mask(d - i), x + i);
    acc = _mm512_fmadd_ps(v, v, acc);
  }
  const __m512 rstd = _mm512_set1_ps(1.0f / std::sqrt(_mm512_reduce_add_ps(acc) / static_cast<float>(d) + eps));
  for (int64_t i = 0; i < d; i += 16) {
    const __mmask16 m = vec::tail_mask(d - i);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), rstd);
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + i)));
  }
}

void rmsnorm_row_scalar(float* x, const float* w, int64_t d, float eps) {
  const float sq = lane_sum(d, [x](int64_t i) { return x[i] * x[i]; });
  const float rstd = 1.0f / std::sqrt(sq / static_cast<float>(d) + eps);
  for (int64_t i = 0; i < d; ++i) x[i] = x[i] * rstd * w[i];
}

}  // namespace

void rmsnorm_row(float* x, const float* w, int64_t d, float eps, bool avx512) {
  if (avx512)
    rmsnorm_row_avx512(x, w, d, eps);
  else
    rmsnorm_row_scalar(x, w, d, eps);
}

void rmsnorm(Tensor& x, const Tensor& w, float eps) {
  const int64_t t = x.dim(0), d = x.dim(1);
  float* xp = x.data<float>();
  const float* wp = w.data<float>();
  const bool avx512 = has_avx512();
  parallel_for(t, std::max<int64_t>(1, 4096 / d), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) rmsnorm_row(xp + r * d, wp, d, eps, avx512);
  });
}

}  // namespace qdit::ops::cpu
