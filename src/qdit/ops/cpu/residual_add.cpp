// x[t,:] += y[t,:] * gate[group(t),:], threaded over tokens.
#include "qdit/core/parallel.h"
#include "qdit/ops/cpu/cpu_features.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/cpu/vec_math.h"

namespace qdit::ops::cpu {

namespace {

// Product first, then the sum, each rounded to fp32: the order of `x + y * gate` in the PyTorch references.
QDIT_AVX512 void add_row_avx512(float* x, const float* y, const float* g, int64_t d) {
  for (int64_t i = 0; i < d; i += 16) {
    const __mmask16 m = vec::tail_mask(d - i);
    __m512 p = _mm512_maskz_loadu_ps(m, y + i);
    if (g) p = _mm512_mul_ps(p, _mm512_maskz_loadu_ps(m, g + i));
    _mm512_mask_storeu_ps(x + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, x + i), p));
  }
}

void add_row_scalar(float* x, const float* y, const float* g, int64_t d) {
  for (int64_t i = 0; i < d; ++i) x[i] += g ? y[i] * g[i] : y[i];
}

}  // namespace

void residual_add(Tensor& x, const Tensor& y, const Tensor& gate) {
  const int64_t t = x.dim(0), d = x.dim(1);
  const int64_t per_group = gate.defined() ? t / gate.dim(0) : t;
  float* xp = x.data<float>();
  const float* yp = y.data<float>();
  const float* gp = gate.defined() ? gate.data<float>() : nullptr;
  const bool avx512 = has_avx512();
  parallel_for(t, std::max<int64_t>(1, 8192 / d), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* g = gp ? gp + (r / per_group) * d : nullptr;
      if (avx512)
        add_row_avx512(xp + r * d, yp + r * d, g, d);
      else
        add_row_scalar(xp + r * d, yp + r * d, g, d);
    }
  });
}

}  // namespace qdit::ops::cpu
