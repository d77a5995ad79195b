// LayerNorm over each token's row, without affine (then optionally modulated by per-group shift/scale) or with
// affine weight/bias. Statistics in fp32: mean = sum(x)/D, var = sum((x-mean)^2)/D (two passes, no E[x^2]-mean^2
// cancellation), rstd = 1/sqrt(var + eps). Output per element: n = (x - mean) * rstd, then
//   plain: n;   modulated: n * (1 + scale) + shift;   affine: n * weight + bias.
#include <algorithm>
#include <cmath>

#include "qdit/core/parallel.h"
#include "qdit/ops/cpu/cpu_features.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/cpu/row_sum.h"
#include "qdit/ops/cpu/vec_math.h"

namespace qdit::ops::cpu {

namespace {

// mul/add per element: `scale_plus_one` means the multiplier is (1 + mul[i]) (modulation) rather than mul[i].
struct RowAffine {
  const float* mul = nullptr;
  const float* add = nullptr;
  bool scale_plus_one = false;
};

QDIT_AVX512 void layernorm_row_avx512(const float* x, int64_t d, float eps, const RowAffine& a, float* out) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < d; i += 16) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(vec::tail_mask(d - i), x + i));
  const float mean = _mm512_reduce_add_ps(acc) / static_cast<float>(d);
  const __m512 vmean = _mm512_set1_ps(mean);
  acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < d; i += 16) {
    const __mmask16 m = vec::tail_mask(d - i);
    const __m512 c = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + i), vmean);
    acc = _mm512_fmadd_ps(c, c, acc);
  }
  const float var = _mm512_reduce_add_ps(acc) / static_cast<float>(d);
  const __m512 rstd = _mm512_set1_ps(1.0f / std::sqrt(var + eps));
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < d; i += 16) {
    const __mmask16 m = vec::tail_mask(d - i);
    __m512 n = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vmean), rstd);
    if (a.mul) {
      __m512 s = _mm512_maskz_loadu_ps(m, a.mul + i);
      if (a.scale_plus_one) s = _mm512_add_ps(one, s);
      n = _mm512_mul_ps(n, s);
    }
    if (a.add) n = _mm512_add_ps(n, _mm512_maskz_loadu_ps(m, a.add + i));
    _mm512_mask_storeu_ps(out + i, m, n);
  }
}

void layernorm_row_scalar(const float* x, int64_t d, float eps, const RowAffine& a, float* out) {
  const float mean = lane_sum(d, [x](int64_t i) { return x[i]; }) / static_cast<float>(d);
  const float sq = lane_sum(d, [x, mean](int64_t i) { return (x[i] - mean) * (x[i] - mean); });
  const float rstd = 1.0f / std::sqrt(sq / static_cast<float>(d) + eps);
  for (int64_t i = 0; i < d; ++i) {
    float n = (x[i] - mean) * rstd;
    if (a.mul) n *= a.scale_plus_one ? 1.0f + a.mul[i] : a.mul[i];
    if (a.add) n += a.add[i];
    out[i] = n;
  }
}

}  // namespace

void layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Modulation* mod, float eps,
               Tensor& out) {
  const int64_t t = x.dim(0), d = x.dim(1);
  const float* scale = mod && mod->scale.defined() ? mod->scale.data<float>() : nullptr;
  const float* shift = mod && mod->shift.defined() ? mod->shift.data<float>() : nullptr;
  const int64_t scale_group = scale ? t / mod->scale.dim(0) : 1;
  const int64_t shift_group = shift ? t / mod->shift.dim(0) : 1;
  const float* xp = x.data<float>();
  float* op = out.data<float>();
  const bool avx512 = has_avx512();
  parallel_for(t, std::max<int64_t>(1, 4096 / d), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      RowAffine a;
      if (weight.defined()) {
        a.mul = weight.data<float>();
        a.add = bias.defined() ? bias.data<float>() : nullptr;
      } else {
        a.mul = scale ? scale + (r / scale_group) * d : nullptr;
        a.add = shift ? shift + (r / shift_group) * d : nullptr;
        a.scale_plus_one = true;
      }
      if (avx512)
        layernorm_row_avx512(xp + r * d, d, eps, a, op + r * d);
      else
        layernorm_row_scalar(xp + r * d, d, eps, a, op + r * d);
    }
  });
}

}  // namespace qdit::ops::cpu
