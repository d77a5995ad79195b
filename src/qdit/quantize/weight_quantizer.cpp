#include "qdit/quantize/weight_quantizer.h"

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "qdit/core/error.h"
#include "qdit/core/half.h"
#include "qdit/core/parallel.h"

namespace qdit::quantize {

namespace {

// The row kernel is written once, as plain loops the compiler vectorises, and compiled twice: for the generic
// x86-64 baseline and for AVX-512 (picked at run time), because qdit is built for the baseline.

// Round half to even for |x| < 2^22 in the default rounding mode: adding and subtracting 1.5 * 2^23 leaves the
// nearest integer, ties to even -- the result of nearbyint(), but vectorisable without SSE4.1's roundps.
inline __attribute__((always_inline)) float round_half_even(float x) {
  const float magic = 12582912.0f;
  return (x + magic) - magic;
}

inline __attribute__((always_inline)) void widen_row(const void* src, DType dtype, int64_t k, float* out) {
  if (dtype == DType::F32) {
    std::memcpy(out, src, static_cast<size_t>(k) * 4);
    return;
  }
  const uint16_t* h = static_cast<const uint16_t*>(src);
  if (dtype == DType::BF16) {
    for (int64_t i = 0; i < k; ++i) {
      const uint32_t b = static_cast<uint32_t>(h[i]) << 16;
      std::memcpy(out + i, &b, 4);
    }
    return;
  }
  for (int64_t i = 0; i < k; ++i) out[i] = f16_to_f32(h[i]);
}

inline __attribute__((always_inline)) float quantize_row_body(const float* w, int64_t k, float qmin, float qmax,
                                                              int8_t* out) {
  float amax = 0.0f;
  int nonfinite = 0;
  for (int64_t i = 0; i < k; ++i) {
    const float a = std::fabs(w[i]);
    nonfinite |= !(a <= FLT_MAX);  // NaN and Inf both fail the comparison
    amax = a > amax ? a : amax;
  }
  // A non-finite row is flagged explicitly instead of yielding a plausible scale.
  if (nonfinite) return NAN;
  const float scale = std::max(amax / qmax, FLT_EPSILON);
  for (int64_t i = 0; i < k; ++i) {
    float q = round_half_even(w[i] / scale);
    q = q < qmin ? qmin : q;
    q = q > qmax ? qmax : q;
    out[i] = static_cast<int8_t>(static_cast<int>(q));
  }
  return scale;
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) float quantize_row_avx512(
    const void* src, DType dtype, int64_t k, float qmin, float qmax, float* tmp, int8_t* out) {
  widen_row(src, dtype, k, tmp);
  return quantize_row_body(tmp, k, qmin, qmax, out);
}

float quantize_row_portable(const void* src, DType dtype, int64_t k, float qmin, float qmax, float* tmp, int8_t* out) {
  widen_row(src, dtype, k, tmp);
  return quantize_row_body(tmp, k, qmin, qmax, out);
}

bool have_avx512() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  return ok;
}

}  // namespace

float quantize_row(const float* w, int64_t k, WeightBits bits, int8_t* out) {
  std::vector<float> tmp(static_cast<size_t>(k));
  const float qmin = static_cast<float>(weight_qmin(bits)), qmax = static_cast<float>(weight_qmax(bits));
  return have_avx512() ? quantize_row_avx512(w, DType::F32, k, qmin, qmax, tmp.data(), out)
                       : quantize_row_portable(w, DType::F32, k, qmin, qmax, tmp.data(), out);
}

QuantizedWeight quantize_weight_per_channel(const Tensor& weight, WeightBits bits, const ErrorContext& ctx) {
  QDIT_CHECK(weight.ndim() == 2, "weight must be [N, K], got " + shape_str(weight.shape()));
  QDIT_CHECK(weight.device() == Device::CPU, "weight must be on the CPU");
  const DType dt = weight.dtype();
  if (dt != DType::F32 && dt != DType::BF16 && dt != DType::F16)
    fail_internal("quantize_weight_per_channel: weight dtype " + std::string(dtype_name(dt)) + " is not a float type",
                  ctx);
  const int64_t n = weight.dim(0), k = weight.dim(1);
  QuantizedWeight out{Tensor::empty({n, k}, DType::I8), Tensor::empty({n}, DType::F32)};
  int8_t* q = out.values.data<int8_t>();
  float* s = out.scale.data<float>();
  const auto* src = static_cast<const uint8_t*>(weight.raw());
  const size_t row_bytes = static_cast<size_t>(k) * dtype_size(dt);
  const float qmin = static_cast<float>(weight_qmin(bits)), qmax = static_cast<float>(weight_qmax(bits));
  const bool fast = have_avx512();
  std::atomic<int64_t> bad_row{-1};
  parallel_for(n, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> tmp(static_cast<size_t>(k));
    for (int64_t r = begin; r < end; ++r) {
      const void* row = src + static_cast<size_t>(r) * row_bytes;
      s[r] = fast ? quantize_row_avx512(row, dt, k, qmin, qmax, tmp.data(), q + r * k)
                  : quantize_row_portable(row, dt, k, qmin, qmax, tmp.data(), q + r * k);
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
