#include "qdit/quantize/weight_quantizer.h"

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <vector>

#include "qdit/core/error.h"
#include "qdit/core/half.h"
#include "qdit/core/parallel.h"

namespace qdit::quantize {

namespace {

void row_to_f32(const Tensor& t, int64_t row, int64_t k, float* out) {
  const int64_t base = row * k;
  switch (t.dtype()) {
    case DType::F32: std::copy_n(t.data<const float>() + base, k, out); return;
    case DType::BF16: {
      const uint16_t* p = t.data<const uint16_t>() + base;
      for (int64_t i = 0; i < k; ++i) out[i] = bf16_to_f32(p[i]);
      return;
    }
    case DType::F16: {
      const uint16_t* p = t.data<const uint16_t>() + base;
      for (int64_t i = 0; i < k; ++i) out[i] = f16_to_f32(p[i]);
      return;
    }
    default: break;
  }
  fail_internal("quantize_weight_per_channel: weight dtype " + std::string(dtype_name(t.dtype())) +
                " is not a float type");
}

}  // namespace

float quantize_row(const float* w, int64_t k, WeightBits bits, int8_t* out) {
  const float qmax = static_cast<float>(weight_qmax(bits));
  const float qmin = static_cast<float>(weight_qmin(bits));
  float amax = 0.0f;
  bool finite = true;
  for (int64_t i = 0; i < k; ++i) {
    finite &= std::isfinite(w[i]);
    amax = std::max(amax, std::fabs(w[i]));
  }
  // std::max drops NaN, so a non-finite row is flagged explicitly instead of yielding a plausible scale.
  if (!finite) return NAN;
  const float scale = std::max(amax / qmax, FLT_EPSILON);
  for (int64_t i = 0; i < k; ++i) {
    // nearbyint rounds half to even in the default rounding mode, like torch.round.
    float q = std::nearbyint(w[i] / scale);
    out[i] = static_cast<int8_t>(std::clamp(q, qmin, qmax));
  }
  return scale;
}

QuantizedWeight quantize_weight_per_channel(const Tensor& weight, WeightBits bits, const ErrorContext& ctx) {
  QDIT_CHECK(weight.ndim() == 2, "weight must be [N, K], got " + shape_str(weight.shape()));
  QDIT_CHECK(weight.device() == Device::CPU, "weight must be on the CPU");
  const int64_t n = weight.dim(0), k = weight.dim(1);
  QuantizedWeight out{Tensor::empty({n, k}, DType::I8), Tensor::empty({n}, DType::F32)};
  int8_t* q = out.values.data<int8_t>();
  float* s = out.scale.data<float>();
  std::atomic<int64_t> bad_row{-1};
  parallel_for(n, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t r = begin; r < end; ++r) {
      row_to_f32(weight, r, k, row.data());
      s[r] = quantize_row(row.data(), k, bits, q + r * k);
      if (!std::isfinite(s[r])) bad_row.store(r);
    }
  });
  if (int64_t r = bad_row.load(); r >= 0) {
    ErrorContext c = ctx;
    c.expected = "finite weights";
    c.found = "NaN or Inf in output channel " + std::to_string(r);
    fail_checkpoint("cannot quantize a weight that holds non-finite values", c);
  }
  return out;
}

}  // namespace qdit::quantize
