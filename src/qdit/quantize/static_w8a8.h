// The arithmetic of static W8A8 (msModelSlim `on_w8a8_static`, modelslim-format.md §2.1, §3.1, §3.2), all in fp32:
//   activation range from calibration: lo = min(xmin, 0), hi = max(xmax, 0)
//   s_x = max((hi - lo) / 255, FLT_EPSILON)           o_x = round_half_even(-lo / s_x) - 128   (signed domain)
//   deq_scale[n]  = s_x * s_w[n]
//   quant_bias[n] = round_half_even(b[n] / deq_scale[n] - o_x * sum_k W_q[n,k])   (int32; b = 0 without a bias)
// so that (sum_k x_q W_q + quant_bias) * deq_scale ~= x W^T + b.
#pragma once
#include <cstdint>

#include "qdit/core/error.h"
#include "qdit/core/tensor.h"

namespace qdit::quantize {

// The observed range of one layer's input over every calibration run.
struct ActivationRange {
  float min = 0.0f;
  float max = 0.0f;
  int64_t samples = 0;  // number of values folded in; 0 means "never observed"
  bool nonfinite = false;  // a NaN/Inf was seen: the range is unusable and the caller must report it
  void observe(const float* x, int64_t n);
  void merge(const ActivationRange& other);
};

struct StaticActivationParams {
  float scale = 0.0f;   // s_x
  float offset = 0.0f;  // o_x, an integer in [-128, 127] stored as fp32 (as on disk)
};

StaticActivationParams static_activation_params(const ActivationRange& r);

struct StaticFold {
  Tensor deq_scale;   // F32 [N]
  Tensor quant_bias;  // I32 [N]
};

// `values` I8 [N,K], `weight_scale` F32 [N], `bias` F32/BF16/F16 [N] or undefined. A quant_bias outside int32 is a
// Checkpoint error carrying `ctx` (it happens only for absurd bias/scale ratios; saturating would be silent).
StaticFold fold_static_w8a8(const Tensor& values, const Tensor& weight_scale, const Tensor& bias,
                            const StaticActivationParams& act, const ErrorContext& ctx = {});

}  // namespace qdit::quantize
