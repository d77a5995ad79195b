#include "qdit/ops/error_context.h"
#include "qdit/ops/cpu/prepared_linear.h"

#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>

#include "qdit/core/error.h"
#include "qdit/core/half.h"
#include "qdit/core/parallel.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/op_args.h"

namespace qdit::ops::cpu {

namespace {

bool uses_int8_gemm(SchemeId s) {
  return s == SchemeId::W8A8 || s == SchemeId::W8A8Dynamic || s == SchemeId::W4A4Dynamic ||
         s == SchemeId::W4A8Dynamic;
}

// Everything that decides the prepared form. Precision only matters for float GEMMs and the kernel only for
// int8 ones, so the other is fixed to keep one entry per layer.
using Key = std::tuple<int, int, int, int64_t, int64_t, const void*, int, const void*, const void*, const void*,
                       const void*, const void*, uint32_t, uint32_t>;

Key key_of(const QuantLinear& w, Precision p) {
  const bool int8 = uses_int8_gemm(w.scheme);
  return Key{static_cast<int>(w.scheme),
             int8 ? 0 : static_cast<int>(p),
             int8 ? static_cast<int>(active_int8_kernel()) : -1,
             w.out_features,
             w.in_features,
             w.weight.raw(),
             static_cast<int>(w.weight.dtype()),
             w.bias.raw(),
             w.weight_scale.raw(),
             w.weight_offset.raw(),
             w.deq_scale.raw(),
             w.quant_bias.raw(),
             f32_to_bits(w.input_scale),
             f32_to_bits(w.input_offset)};
}

std::mutex g_cache_mutex;
std::map<Key, std::shared_ptr<const PreparedLinear>>& cache() {
  static std::map<Key, std::shared_ptr<const PreparedLinear>> c;
  return c;
}

ErrorContext context(const QuantLinear& w, std::string expected, std::string found) {
  return expected_found(std::move(expected), std::move(found), w.name, scheme_name(w.scheme));
}

std::vector<float> floats(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  if (!v.empty()) std::memcpy(v.data(), t.raw(), v.size() * sizeof(float));
  return v;
}

void require_positive_finite(const QuantLinear& w, const float* v, int64_t n, const char* what) {
  for (int64_t i = 0; i < n; ++i)
    if (!(std::isfinite(v[i]) && v[i] > 0.0f))
      fail_checkpoint(std::string(what) + " must be positive and finite",
                      context(w, "> 0 at every channel", std::to_string(v[i]) + " at channel " + std::to_string(i)));
}

// The weights the float GEMM multiplies by, as F32 values (rounded to bf16 values for BF16).
Tensor float_weights(const QuantLinear& w, Precision p) {
  const int64_t n = w.out_features, k = w.in_features;
  Tensor f32;
  if (w.scheme == SchemeId::Float) {
    f32 = w.weight.dtype() == DType::F32 ? w.weight : to_f32(w.weight);  // BF16/F16 upcast exactly
  } else {
    // W8A16: w = ((float)W_q - z) * s per element, fp32, left to right.
    f32 = Tensor::empty({n, k}, DType::F32);
    const int8_t* q = w.weight.data<int8_t>();
    const float* s = w.weight_scale.data<float>();
    const float* z = w.weight_offset.defined() ? w.weight_offset.data<float>() : nullptr;
    float* d = f32.data<float>();
    parallel_for(n, 1, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r)
        for (int64_t c = 0; c < k; ++c) {
          float v = static_cast<float>(q[r * k + c]);
          if (z) v = v - z[r];
          d[r * k + c] = v * s[r];
        }
    });
  }
  if (p != Precision::BF16) return f32;
  Tensor rounded = Tensor::empty({n, k}, DType::F32);
  round_to_bf16_values(f32.data<float>(), n * k, rounded.data<float>());
  return rounded;
}

std::shared_ptr<PreparedLinear> build(const QuantLinear& w, Precision p) {
  auto prep = std::make_shared<PreparedLinear>();
  prep->keep_alive = {w.weight, w.bias, w.weight_scale, w.weight_offset, w.deq_scale, w.quant_bias};
  const int64_t n = w.out_features, k = w.in_features;
  if (!uses_int8_gemm(w.scheme)) {
    if (w.scheme == SchemeId::W8A16) require_positive_finite(w, w.weight_scale.data<float>(), n, "weight_scale");
    prep->float_gemm = std::make_unique<FloatGemm>(float_weights(w, p), w.bias, p == Precision::BF16);
    return prep;
  }
  // Exact int32 accumulation needs K * 127 * 128 < 2^31 (modelslim-format.md §3).
  if (k * 127 * 128 >= (int64_t{1} << 31))
    fail_checkpoint("in_features too large for exact int32 accumulation",
                    context(w, "K < 132104", "K = " + std::to_string(k)));
  Int8GemmSpec spec;
  spec.weight = w.weight;
  if (w.scheme == SchemeId::W8A8) {
    if (!(std::isfinite(w.input_scale) && w.input_scale > 0.0f) || !std::isfinite(w.input_offset))
      fail_checkpoint("input_scale must be positive and finite and input_offset finite",
                      context(w, "input_scale > 0", "input_scale " + std::to_string(w.input_scale) +
                                                        ", input_offset " + std::to_string(w.input_offset)));
    require_positive_finite(w, w.deq_scale.data<float>(), n, "deq_scale");
    prep->static_activations = true;
    prep->input_scale = w.input_scale;
    prep->input_offset = w.input_offset;
    spec.col_add.assign(w.quant_bias.data<int32_t>(), w.quant_bias.data<int32_t>() + n);
    spec.col_scale = floats(w.deq_scale);
  } else {
    require_positive_finite(w, w.weight_scale.data<float>(), n, "weight_scale");
    // The dynamic schemes are symmetric: ModelSlim writes an all-zero weight_offset, which the arithmetic ignores.
    // A non-zero one would change the result, so it is refused rather than dropped.
    if (w.weight_offset.defined())
      for (int64_t i = 0; i < n; ++i)
        if (w.weight_offset.data<float>()[i] != 0.0f)
          fail_checkpoint("weight_offset must be zero for a symmetric dynamic scheme",
                          context(w, "0 at every channel",
                                  std::to_string(w.weight_offset.data<float>()[i]) + " at channel " + std::to_string(i)));
    prep->qmin = w.act_qmin();
    prep->qmax = w.act_qmax();
    spec.col_scale = floats(w.weight_scale);
    if (w.bias.defined()) spec.bias = floats(w.bias);
    if (w.scheme == SchemeId::W4A4Dynamic || w.scheme == SchemeId::W4A8Dynamic) {
      const int8_t* q = w.weight.data<int8_t>();
      for (int64_t i = 0; i < n * k; ++i)
        if (q[i] < -8 || q[i] > 7)
          fail_checkpoint("int4 weight value out of range",
                          context(w, "values in [-8, 7]",
                                  std::to_string(q[i]) + " at [" + std::to_string(i / k) + ", " +
                                      std::to_string(i % k) + "]"));
    }
  }
  prep->int8_gemm = make_int8_gemm(active_int8_kernel(), spec);
  return prep;
}

}  // namespace

std::shared_ptr<const PreparedLinear> prepared_linear(const QuantLinear& w, Precision p) {
  const Key key = key_of(w, p);
  {
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    auto it = cache().find(key);
    if (it != cache().end()) return it->second;
  }
  // Built outside the lock (packing is long and parallel); a concurrent builder of the same key loses the race.
  std::shared_ptr<const PreparedLinear> built = build(w, p);
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  return cache().emplace(key, std::move(built)).first->second;
}

void prepare_linear(const QuantLinear& w, Precision p) { prepared_linear(w, p); }

void release_prepared_linears() {
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  cache().clear();
}

}  // namespace qdit::ops::cpu
