// Per-output-channel symmetric weight quantization, the way msModelSlim's per-channel recipes do it:
//   s_w[n] = max_k |W[n,k]| / qmax   (fp32, floored at FLT_EPSILON so an all-zero row cannot divide by zero)
//   W_q[n,k] = clamp(round_half_even(W[n,k] / s_w[n]), qmin, qmax)
// qmax = 127 for int8 (W8A8, W8A8_DYNAMIC, W8A16), 7 for int4 (W4A4_DYNAMIC; values kept one per int8 byte).
#pragma once
#include <cstdint>

#include "qdit/core/error.h"
#include "qdit/core/tensor.h"

namespace qdit::quantize {

enum class WeightBits : uint8_t { Int8, Int4 };

inline int weight_qmax(WeightBits b) { return b == WeightBits::Int8 ? 127 : 7; }
inline int weight_qmin(WeightBits b) { return b == WeightBits::Int8 ? -128 : -8; }

struct QuantizedWeight {
  Tensor values;  // I8 [N, K]
  Tensor scale;   // F32 [N]
};

// `weight` is an F32, BF16 or F16 CPU tensor [N, K] (typically an mmap view); rows are converted to fp32 one at a
// time, so the only memory allocated is the int8 result and the scales. A NaN/Inf weight is a Checkpoint error
// carrying `ctx` (the caller fills in file, tensor and layer).
QuantizedWeight quantize_weight_per_channel(const Tensor& weight, WeightBits bits, const ErrorContext& ctx = {});

// One row in fp32: the building block above, exposed for the benchmark and the tests' edge cases. Returns s_w
// (non-finite when the row holds NaN/Inf).
float quantize_row(const float* w, int64_t k, WeightBits bits, int8_t* out);

}  // namespace qdit::quantize
