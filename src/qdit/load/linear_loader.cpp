// load_linear / load_param_f32: the per-tensor half of the loader (decoding, fusing, value checks).
#include <cmath>
#include <cstring>

#include "qdit/load/loader.h"
#include "qdit/quant/decode.h"

namespace qdit::load {

namespace {

using quant::Decode;
using quant::ParamSpec;
using quant::Slot;

ErrorContext at(const BoundTensor& t, const LinearPlan& layer, const char* scheme) {
  ErrorContext c;
  c.file = t.file();
  c.tensor = t.name;
  c.canonical = t.canonical;
  c.layer = layer.runtime;
  c.scheme = scheme;
  return c;
}

// The stored tensor in its runtime form for one shard.
Tensor decode_one(const ComponentPlan& plan, const BoundTensor& t, const ParamSpec& spec, const ShardPlan& shard,
                  const LinearPlan& layer, SchemeId scheme) {
  Tensor raw = plan.store->view(t.stored);
  switch (spec.decode) {
    case Decode::AsStored:
      // A float conv weight ([D, Cin, 1, 2, 2]) is the same bytes as the [N, K] matrix.
      return spec.slot == Slot::Weight ? raw.reshape({shard.out_features, shard.in_features}) : raw;
    case Decode::ToF32: return quant::widen_to_f32(raw, /*flatten=*/true);
    case Decode::DeqScale: return quant::decode_deq_scale(raw);
    case Decode::Int4Values:
      if (auto bad = quant::first_outside_int4(raw)) {
        ErrorContext c = at(t, layer, scheme_name(scheme));
        const int64_t k = shard.in_features;
        c.expected = "int4 values in [-8, 7]";
        c.found = std::to_string(raw.data<int8_t>()[*bad]) + " at [" + std::to_string(*bad / k) + ", " +
                  std::to_string(*bad % k) + "]";
        fail_checkpoint("weight value out of the int4 range", c);
      }
      return raw;
    case Decode::UnpackInt4AlongN: return quant::unpack_int4_along_n(raw);
  }
  fail_internal("unhandled decode");
}

// Shards concatenated along dim 0; a single shard is returned as is (a zero-copy view where decoding allowed it).
Tensor concat_rows(const std::vector<Tensor>& parts) {
  if (parts.size() == 1) return parts.front();
  Shape shape = parts.front().shape();
  int64_t rows = 0;
  for (const auto& p : parts) {
    QDIT_CHECK(p.dtype() == parts.front().dtype() && p.ndim() == parts.front().ndim(), "shard dtypes differ");
    rows += p.dim(0);
  }
  shape[0] = rows;
  Tensor out = Tensor::empty(shape, parts.front().dtype());
  char* dst = static_cast<char*>(out.raw());
  for (const auto& p : parts) {
    std::memcpy(dst, p.raw(), p.nbytes());
    dst += p.nbytes();
  }
  return out;
}

// Fused shards must come in the same dtype to be concatenated without a cast (float weights, bias dtypes).
void check_same_dtype(const std::vector<const BoundTensor*>& ts, const LinearPlan& layer, SchemeId scheme) {
  for (const auto* t : ts) {
    if (t->info().dtype == ts.front()->info().dtype) continue;
    ErrorContext c = at(*t, layer, scheme_name(scheme));
    c.expected = std::string(dtype_name(ts.front()->info().dtype)) + " like " + ts.front()->name;
    c.found = std::string(dtype_name(t->info().dtype));
    fail_checkpoint("fused shards store this tensor in different dtypes", c);
  }
}

void check_zero(const Tensor& f32, const BoundTensor& t, const LinearPlan& layer, SchemeId scheme) {
  const float* p = f32.data<float>();
  for (int64_t i = 0; i < f32.numel(); ++i) {
    if (p[i] == 0.0f) continue;
    ErrorContext c = at(t, layer, scheme_name(scheme));
    c.expected = "all zeros (this scheme is symmetric: the runtime has no weight zero point)";
    c.found = std::to_string(p[i]) + " at index " + std::to_string(i);
    fail_checkpoint("non-zero weight_offset (asymmetric weights) is not supported", c);
  }
}

void warn(std::vector<Problem>* out, std::string message, ErrorContext c) {
  if (out) out->push_back({Severity::Warning, std::move(message), std::move(c)});
}

// scale_bias[n, :] sums to 8 * sum_k W_q[n,k] * s_w[n] (modelslim-format.md §2.7); it is only a checksum here.
void verify_scale_bias(const Tensor& scale_bias, const Tensor& w, const Tensor& s_w, const BoundTensor& t,
                       const LinearPlan& layer, int64_t row0, std::vector<Problem>* warnings) {
  const int64_t n = scale_bias.dim(0), cols = scale_bias.numel() / n, k = w.dim(1);
  const float* sb = scale_bias.data<float>();
  for (int64_t r = 0; r < n; ++r) {
    double want = 0, mag = 0, got = 0;
    for (int64_t c = 0; c < k; ++c) {
      const double v = static_cast<double>(w.data<int8_t>()[(row0 + r) * k + c]) * s_w.data<float>()[row0 + r];
      want += v;
      mag += std::fabs(v);
    }
    want *= 8;
    for (int64_t c = 0; c < cols; ++c) got += sb[r * cols + c];
    if (std::fabs(got - want) <= 1e-4 * 8 * mag + 1e-6) continue;
    ErrorContext ctx = at(t, layer, "W4A8_DYNAMIC");
    ctx.expected = "8 * sum_k W_q * weight_scale = " + std::to_string(want) + " for row " + std::to_string(r);
    ctx.found = std::to_string(got);
    warn(warnings, "scale_bias does not match the weights (it is not used; the weights and scales are)", ctx);
    return;
  }
}

}  // namespace

QuantLinear load_linear(const ComponentPlan& plan, const LinearPlan& layer, std::vector<Problem>* warnings) {
  QDIT_CHECK(layer.scheme.has_value(), "load_linear on an unresolved layer " + layer.runtime);
  const SchemeId scheme = *layer.scheme;
  const quant::SchemeDecl& decl = quant::scheme_decl(scheme);
  QuantLinear q;
  q.scheme = scheme;
  q.out_features = layer.out_features;
  q.in_features = layer.in_features;

  // Decoded per-shard tensors of every declared parameter, so verification can see the weights.
  std::vector<std::vector<Tensor>> decoded(decl.params.size());
  for (size_t pi = 0; pi < decl.params.size(); ++pi) {
    const ParamSpec& spec = decl.params[pi];
    std::vector<const BoundTensor*> present;
    for (const auto& s : layer.shards) {
      const BoundParam* b = s.param(spec.suffix);
      QDIT_CHECK(b != nullptr, "shard " + s.canonical + " lacks a plan entry for " + std::string(spec.suffix));
      if (b->tensor) present.push_back(&*b->tensor);
    }
    if (present.empty()) continue;
    if (present.size() != layer.shards.size()) {
      ErrorContext c = at(*present.front(), layer, scheme_name(scheme));
      c.expected = "'" + std::string(spec.suffix) + "' in every shard of " + layer.canonical_names() + " or in none";
      c.found = std::to_string(present.size()) + " of " + std::to_string(layer.shards.size());
      fail_checkpoint("fused shards disagree on an optional tensor", c);
    }
    if (spec.decode == Decode::AsStored) check_same_dtype(present, layer, scheme);
    for (size_t si = 0; si < layer.shards.size(); ++si)
      decoded[pi].push_back(decode_one(plan, *present[si], spec, layer.shards[si], layer, scheme));
  }

  auto fused = [&](Slot slot) -> Tensor {
    for (size_t pi = 0; pi < decl.params.size(); ++pi)
      if (decl.params[pi].slot == slot && !decoded[pi].empty()) return concat_rows(decoded[pi]);
    return Tensor();
  };
  q.weight = fused(Slot::Weight);
  q.bias = fused(Slot::Bias);
  q.weight_scale = fused(Slot::WeightScale);
  q.weight_offset = fused(Slot::WeightOffset);
  q.deq_scale = fused(Slot::DeqScale);
  q.quant_bias = fused(Slot::QuantBias);

  const auto& first = layer.shards.front();
  for (size_t pi = 0; pi < decl.params.size(); ++pi) {
    const ParamSpec& spec = decl.params[pi];
    if (decoded[pi].empty()) continue;
    const BoundTensor& t0 = *first.param(spec.suffix)->tensor;
    if (spec.slot == Slot::InputScale) {
      // The plan checked that fused shards agree on the value.
      q.input_scale = decoded[pi].front().data<float>()[0];
      if (!(q.input_scale > 0.0f) || !std::isfinite(q.input_scale)) {
        ErrorContext c = at(t0, layer, decl.name.data());
        c.expected = "a positive finite activation scale";
        c.found = std::to_string(q.input_scale);
        fail_checkpoint("invalid input_scale", c);
      }
    }
    if (spec.slot == Slot::InputOffset) {
      q.input_offset = decoded[pi].front().data<float>()[0];
      if (decl.input_offset_is_int8 &&
          !(q.input_offset == std::nearbyint(q.input_offset) && q.input_offset >= -128 && q.input_offset <= 127)) {
        ErrorContext c = at(t0, layer, decl.name.data());
        c.expected = "an integer in [-128, 127] (the signed activation zero point)";
        c.found = std::to_string(q.input_offset);
        fail_checkpoint("invalid input_offset", c);
      }
    }
    if (spec.suffix == "weight_offset" && decl.weight_offset_must_be_zero)
      for (size_t si = 0; si < decoded[pi].size(); ++si)
        check_zero(decoded[pi][si], *layer.shards[si].param(spec.suffix)->tensor, layer, scheme);
  }

  // Redundant tensors, checked against what they restate.
  int64_t row0 = 0;
  for (size_t si = 0; si < layer.shards.size(); ++si) {
    const ShardPlan& s = layer.shards[si];
    if (const BoundParam* sb = s.param("scale_bias"); sb && sb->tensor) {
      Tensor v = quant::widen_to_f32(plan.store->view(sb->tensor->stored), false);
      verify_scale_bias(v, q.weight, q.weight_scale, *sb->tensor, layer, row0, warnings);
    }
    if (const BoundParam* ws = s.param("weight_scale"); scheme == SchemeId::W8A8 && ws && ws->tensor) {
      // Legacy static W8A8 carries s_w too: deq_scale must be input_scale * s_w (computed in fp32).
      Tensor sw = quant::widen_to_f32(plan.store->view(ws->tensor->stored), true);
      for (int64_t n = 0; n < s.out_features; ++n) {
        const float want = q.input_scale * sw.data<float>()[n];
        const float got = q.deq_scale.data<float>()[row0 + n];
        if (std::fabs(got - want) <= 1e-5f * std::fabs(want)) continue;
        ErrorContext c = at(*ws->tensor, layer, "W8A8");
        c.expected = "deq_scale = input_scale * weight_scale = " + std::to_string(want) + " at row " + std::to_string(n);
        c.found = std::to_string(got);
        warn(warnings, "deq_scale disagrees with input_scale * weight_scale (deq_scale is what is used)", c);
        break;
      }
    }
    row0 += s.out_features;
  }
  QDIT_CHECK(q.weight.defined() && q.weight.dim(0) == q.out_features && q.weight.dim(1) == q.in_features,
             "loaded weight of " + layer.runtime + " has shape " + shape_str(q.weight.shape()));
  return q;
}

Tensor load_param_f32(const ComponentPlan& plan, const ParamPlan& param, const Shape& runtime_shape) {
  QDIT_CHECK(param.tensor.has_value(), "load_param_f32 on a missing parameter " + param.canonical);
  Tensor raw = plan.store->view(param.tensor->stored);
  // BF16/F16 norms and modulation tables become F32: a declared conversion, exact for every value.
  Tensor f = quant::widen_to_f32(raw, false);
  return f.reshape(runtime_shape);
}

}  // namespace qdit::load
