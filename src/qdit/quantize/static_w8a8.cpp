#include "qdit/quantize/static_w8a8.h"

#include <algorithm>
#include <cfloat>
#include <cmath>


namespace qdit::quantize {

void ActivationRange::observe(const float* x, int64_t n) {
  float lo = samples ? min : INFINITY, hi = samples ? max : -INFINITY;
  int64_t finite = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) {
      nonfinite = true;
      continue;
    }
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    ++finite;
  }
  if (finite == 0) return;
  min = lo;
  max = hi;
  samples += finite;
}

void ActivationRange::merge(const ActivationRange& o) {
  nonfinite |= o.nonfinite;
  if (o.samples == 0) return;
  if (samples == 0) {
    *this = o;
    return;
  }
  min = std::min(min, o.min);
  max = std::max(max, o.max);
  samples += o.samples;
  nonfinite |= o.nonfinite;
}

StaticActivationParams static_activation_params(const ActivationRange& r) {
  const float lo = std::min(r.min, 0.0f);
  const float hi = std::max(r.max, 0.0f);
  StaticActivationParams p;
  p.scale = std::max((hi - lo) / 255.0f, FLT_EPSILON);
  p.offset = std::nearbyint(-lo / p.scale) - 128.0f;
  return p;
}

StaticFold fold_static_w8a8(const Tensor& values, const Tensor& weight_scale, const Tensor& bias,
                            const StaticActivationParams& act, const ErrorContext& ctx) {
  QDIT_CHECK(values.ndim() == 2 && values.dtype() == DType::I8, "values must be I8 [N,K]");
  const int64_t n = values.dim(0), k = values.dim(1);
  QDIT_CHECK(weight_scale.numel() == n && weight_scale.dtype() == DType::F32, "weight_scale must be F32 [N]");
  QDIT_CHECK(!bias.defined() || bias.numel() == n, "bias must have N elements");
  StaticFold out{Tensor::empty({n}, DType::F32), Tensor::empty({n}, DType::I32)};
  const int8_t* q = values.data<const int8_t>();
  const float* sw = weight_scale.data<const float>();
  float* deq = out.deq_scale.data<float>();
  int32_t* qb = out.quant_bias.data<int32_t>();
  for (int64_t r = 0; r < n; ++r) {
    int64_t sum = 0;  // exact: |sum| <= 128 * K
    for (int64_t i = 0; i < k; ++i) sum += q[r * k + i];
    deq[r] = act.scale * sw[r];
    const float b = bias.defined() ? static_cast<float>(element_as_double(bias, r)) : 0.0f;
    const float folded = std::nearbyint(b / deq[r] - act.offset * static_cast<float>(sum));
    // 2^31 is exactly representable in fp32; anything at or beyond it does not fit int32.
    if (!(folded >= -2147483648.0f && folded < 2147483648.0f)) {
      ErrorContext c = ctx;
      c.expected = "quant_bias within int32";
      c.found = "value " + std::to_string(folded) + " in output channel " + std::to_string(r);
      fail_checkpoint("static W8A8 quant_bias overflows int32 (bias too large for the dequantization scale)", c);
    }
    qb[r] = static_cast<int32_t>(folded);
  }
  return out;
}

}  // namespace qdit::quantize
