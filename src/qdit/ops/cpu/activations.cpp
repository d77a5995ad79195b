// In-place GELU (tanh and erf forms) and SiLU over every element, threaded over contiguous chunks.
#include <cmath>

#include "qdit/core/parallel.h"
#include "qdit/ops/cpu/cpu_features.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/cpu/vec_math.h"

namespace qdit::ops::cpu {

namespace {

constexpr int64_t kGrain = 1 << 14;
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;

// The tanh approximation of torch (nn.GELU(approximate='tanh')): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
float gelu_tanh_scalar(float x) {
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x)));
}

QDIT_AVX512 void gelu_tanh_avx512(float* x, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = vec::tail_mask(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    const __m512 v3 = _mm512_mul_ps(_mm512_mul_ps(v, v), v);
    const __m512 u = _mm512_mul_ps(_mm512_set1_ps(kSqrt2OverPi), _mm512_fmadd_ps(_mm512_set1_ps(kGeluCubic), v3, v));
    const __m512 t = vec::tanh(u);
    const __m512 r = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v), _mm512_add_ps(_mm512_set1_ps(1.0f), t));
    _mm512_mask_storeu_ps(x + i, m, r);
  }
}

float silu_scalar(float x) { return x / (1.0f + std::exp(-x)); }

QDIT_AVX512 void silu_avx512(float* x, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = vec::tail_mask(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    const __m512 e = vec::exp(_mm512_sub_ps(_mm512_setzero_ps(), v));
    _mm512_mask_storeu_ps(x + i, m, _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), e)));
  }
}

template <typename Scalar, typename Vector>
void apply(Tensor& t, Scalar scalar, Vector vector) {
  float* x = t.data<float>();
  const bool avx512 = has_avx512();
  parallel_for(t.numel(), kGrain, [&](int64_t b, int64_t e) {
    if (avx512) {
      vector(x + b, e - b);
    } else {
      for (int64_t i = b; i < e; ++i) x[i] = scalar(x[i]);
    }
  });
}

}  // namespace

void gelu_tanh(Tensor& x) { apply(x, gelu_tanh_scalar, gelu_tanh_avx512); }

void silu(Tensor& x) { apply(x, silu_scalar, silu_avx512); }

// Exact GELU runs only in the Wan2.1 I2V image MLP (257 tokens), so libm's erf per element is fast enough.
void gelu_erf(Tensor& x) {
  float* p = x.data<float>();
  parallel_for(x.numel(), kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) p[i] = 0.5f * p[i] * (1.0f + std::erf(p[i] * 0.70710678118654752f));
  });
}

}  // namespace qdit::ops::cpu
