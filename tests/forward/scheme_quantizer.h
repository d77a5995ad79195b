// Test-side quantization of float weights into each scheme's runtime QuantLinear, written independently of
// qdit's quantizer (src/qdit/quantize) so forward tests do not depend on it: per-output-channel symmetric weights
// (asymmetric for W8A16, to exercise a non-zero weight_offset), static W8A8 folded from an activation range.
// Header-only so bench/ can use it too.
#pragma once
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "qdit/core/tensor.h"
#include "qdit/quant/linear.h"

namespace qdit::wan::testing {

// Observed input range of a layer (for static W8A8).
struct ActRange {
  float min = 0.0f, max = 0.0f;
};

inline float rne(float v) { return std::nearbyint(v); }

// `weight` F32 [N,K], `bias` F32 [N] or undefined.
inline QuantLinear quantize_linear(const Tensor& weight, const Tensor& bias, SchemeId scheme, ActRange range = {}) {
  const int64_t N = weight.dim(0), K = weight.dim(1);
  QuantLinear l;
  l.scheme = scheme;
  l.out_features = N;
  l.in_features = K;
  if (scheme == SchemeId::Float) {
    l.weight = weight;
    l.bias = bias;
    return l;
  }
  const float* w = weight.data<float>();
  l.weight = Tensor::empty({N, K}, DType::I8);
  l.weight_scale = Tensor::empty({N}, DType::F32);
  int8_t* q = l.weight.data<int8_t>();
  float* s = l.weight_scale.data<float>();
  const bool int4 = scheme == SchemeId::W4A4Dynamic || scheme == SchemeId::W4A8Dynamic;
  const float qmax = int4 ? 7.0f : 127.0f, qmin = int4 ? -8.0f : -128.0f;
  if (scheme == SchemeId::W8A16) {
    // Asymmetric: W ~= (W_q - z) * s with W_q in [-128, 127].
    l.weight_offset = Tensor::empty({N}, DType::F32);
    for (int64_t n = 0; n < N; ++n) {
      float lo = 0.0f, hi = 0.0f;
      for (int64_t k = 0; k < K; ++k) lo = std::min(lo, w[n * K + k]), hi = std::max(hi, w[n * K + k]);
      s[n] = std::max((hi - lo) / 255.0f, FLT_EPSILON);
      const float z = rne(-lo / s[n]) - 128.0f;
      l.weight_offset.data<float>()[n] = z;
      for (int64_t k = 0; k < K; ++k)
        q[n * K + k] = static_cast<int8_t>(std::clamp(rne(w[n * K + k] / s[n] + z), -128.0f, 127.0f));
    }
    l.bias = bias;
    return l;
  }
  for (int64_t n = 0; n < N; ++n) {
    float amax = 0.0f;
    for (int64_t k = 0; k < K; ++k) amax = std::max(amax, std::fabs(w[n * K + k]));
    s[n] = std::max(amax / qmax, FLT_EPSILON);
    for (int64_t k = 0; k < K; ++k)
      q[n * K + k] = static_cast<int8_t>(std::clamp(rne(w[n * K + k] / s[n]), qmin, qmax));
  }
  if (scheme != SchemeId::W8A8) {
    l.bias = bias;
    return l;
  }
  // Static W8A8 (modelslim-format.md §2.1): asymmetric per-tensor activation parameters, bias folded.
  const float lo = std::min(range.min, 0.0f), hi = std::max(range.max, 0.0f);
  const float s_x = std::max((hi - lo) / 255.0f, FLT_EPSILON);
  const float o_x = rne(-lo / s_x) - 128.0f;
  l.input_scale = s_x;
  l.input_offset = o_x;
  l.deq_scale = Tensor::empty({N}, DType::F32);
  l.quant_bias = Tensor::empty({N}, DType::I32);
  for (int64_t n = 0; n < N; ++n) {
    const float deq = s_x * s[n];
    int64_t wsum = 0;
    for (int64_t k = 0; k < K; ++k) wsum += q[n * K + k];
    const double b = bias.defined() ? bias.data<float>()[n] : 0.0;
    l.deq_scale.data<float>()[n] = deq;
    l.quant_bias.data<int32_t>()[n] = static_cast<int32_t>(std::nearbyint(b / deq - o_x * static_cast<double>(wsum)));
  }
  l.weight_scale = Tensor();  // AscendV1 static W8A8 carries no weight_scale
  return l;
}

}  // namespace qdit::wan::testing
