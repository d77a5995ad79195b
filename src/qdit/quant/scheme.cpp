#include "qdit/quant/scheme.h"

#include "qdit/core/error.h"

namespace qdit::quant {

namespace {

using D = DType;
const std::vector<DType> kFloat = {D::F32, D::BF16, D::F16};

ParamSpec float_bias_applied() {
  return {"bias", kFloat, ShapeRule::VectorN, false, "the layer has no bias", Use::Applied, Decode::ToF32, Slot::Bias};
}

ParamSpec per_channel_scale() {
  return {"weight_scale", kFloat, ShapeRule::PerChannel, true, "", Use::Applied, Decode::ToF32, Slot::WeightScale};
}

// Symmetric schemes: ModelSlim writes an all-zero weight_offset; the op has no place for a non-zero one.
ParamSpec zero_weight_offset() {
  return {"weight_offset", kFloat, ShapeRule::PerChannel, false, "zero offset (symmetric weights)", Use::Verified,
          Decode::ToF32, Slot::None};
}

// W8A8_DYNAMIC and W4A4_DYNAMIC: an [N, K] int8 weight (int4 values in int8 for W4A4), per-channel scales, a
// zero offset and the float bias; they differ only in how the weight's values are read.
SchemeDecl dynamic_per_channel(SchemeId id, const char* name, Decode weight_decode) {
  return {id,
          name,
          {
              {"weight", {D::I8}, ShapeRule::MatrixNK, true, "", Use::Applied, weight_decode, Slot::Weight},
              per_channel_scale(),
              zero_weight_offset(),
              float_bias_applied(),
          },
          false,
          true,
          true,
          false};
}

std::vector<SchemeDecl> build() {
  std::vector<SchemeDecl> v;
  v.push_back({SchemeId::Float,
               "FLOAT",
               {
                   {"weight", kFloat, ShapeRule::MatrixNK, true, "", Use::Applied, Decode::AsStored, Slot::Weight},
                   float_bias_applied(),
               }});
  // modelslim-format.md §2.1 and §3.2: y = (acc + quant_bias) * deq_scale.
  v.push_back({SchemeId::W8A8,
               "W8A8",
               {
                   {"weight", {D::I8}, ShapeRule::MatrixNK, true, "", Use::Applied, Decode::AsStored, Slot::Weight},
                   {"input_scale", kFloat, ShapeRule::Scalar, true, "", Use::Applied, Decode::ToF32, Slot::InputScale},
                   {"input_offset", kFloat, ShapeRule::Scalar, true, "", Use::Applied, Decode::ToF32,
                    Slot::InputOffset},
                   {"deq_scale", {D::I64, D::F32}, ShapeRule::VectorN, true, "", Use::Applied, Decode::DeqScale,
                    Slot::DeqScale},
                   {"quant_bias", {D::I32}, ShapeRule::VectorN, true, "", Use::Applied, Decode::AsStored,
                    Slot::QuantBias},
                   {"bias", kFloat, ShapeRule::VectorN, false, "the layer had no float bias", Use::FoldedNotApplied,
                    Decode::ToF32, Slot::None},
                   {"weight_scale", kFloat, ShapeRule::PerChannel, false,
                    "not needed: deq_scale already holds input_scale * weight_scale (AscendV1 omits it)",
                    Use::Verified, Decode::ToF32, Slot::None},
                   {"weight_offset", kFloat, ShapeRule::PerChannel, false, "zero offset (symmetric weights)",
                    Use::Verified, Decode::ToF32, Slot::None},
               },
               false,
               false,
               true,
               true});
  v.push_back(dynamic_per_channel(SchemeId::W8A8Dynamic, "W8A8_DYNAMIC", Decode::AsStored));
  v.push_back(dynamic_per_channel(SchemeId::W4A4Dynamic, "W4A4_DYNAMIC", Decode::Int4Values));
  // modelslim-format.md §3.7: W ~ (W_q - weight_offset) * weight_scale; asymmetric offsets are allowed.
  v.push_back({SchemeId::W8A16,
               "W8A16",
               {
                   {"weight", {D::I8}, ShapeRule::MatrixNK, true, "", Use::Applied, Decode::AsStored, Slot::Weight},
                   per_channel_scale(),
                   {"weight_offset", kFloat, ShapeRule::PerChannel, false, "zero offset (symmetric weights)",
                    Use::Applied, Decode::ToF32, Slot::WeightOffset},
                   float_bias_applied(),
               },
               false,
               true,
               false,
               false});
  // modelslim-format.md §2.7 (c): v1.0.0 per-channel, weight packed along N; scale_bias = 8 * sum_k W_q * s_w.
  v.push_back({SchemeId::W4A8Dynamic,
               "W4A8_DYNAMIC",
               {
                   {"weight", {D::I8}, ShapeRule::PackedAlongN, true, "", Use::Applied, Decode::UnpackInt4AlongN,
                    Slot::Weight},
                   per_channel_scale(),
                   zero_weight_offset(),
                   {"scale_bias", {D::F32}, ShapeRule::ScaleBias, false,
                    "not needed: it only restates 8 * sum_k W_q * weight_scale for the NPU kernel", Use::Verified,
                    Decode::ToF32, Slot::None},
                   float_bias_applied(),
               },
               true,
               true,
               true,
               false});
  return v;
}

}  // namespace

const std::vector<SchemeDecl>& scheme_decls() {
  static const std::vector<SchemeDecl> decls = build();
  return decls;
}

const SchemeDecl& scheme_decl(SchemeId id) {
  for (const auto& d : scheme_decls())
    if (d.id == id) return d;
  fail_internal("no declaration for scheme " + std::string(scheme_name(id)));
}

const ParamSpec* find_param(const SchemeDecl& decl, std::string_view suffix) {
  for (const auto& p : decl.params)
    if (p.suffix == suffix) return &p;
  return nullptr;
}

std::vector<Shape> accepted_shapes(ShapeRule rule, int64_t n, int64_t k) {
  switch (rule) {
    case ShapeRule::MatrixNK: return {{n, k}};
    case ShapeRule::PackedAlongN:
      if (n % 2 != 0) return {};
      return {{n / 2, k}};
    case ShapeRule::PerChannel: return {{n, 1}, {n}};
    case ShapeRule::VectorN: return {{n}};
    case ShapeRule::Scalar: return {{1}};
    case ShapeRule::ScaleBias: return {{n, 1}, {n, 16}};
  }
  return {};
}

bool shape_accepted(ShapeRule rule, int64_t n, int64_t k, const Shape& s) {
  for (const auto& a : accepted_shapes(rule, n, k))
    if (a == s) return true;
  return false;
}

std::string shape_rule_text(ShapeRule rule, int64_t n, int64_t k) {
  const bool nums = n > 0 && k > 0;
  auto N = [&] { return nums ? std::to_string(n) : std::string("N"); };
  auto K = [&] { return nums ? std::to_string(k) : std::string("K"); };
  switch (rule) {
    case ShapeRule::MatrixNK: return "[" + N() + ", " + K() + "]";
    case ShapeRule::PackedAlongN:
      return "[" + (nums ? std::to_string(n / 2) : std::string("N/2")) + ", " + K() + "] (int4 pairs packed along N)";
    case ShapeRule::PerChannel: return "[" + N() + ", 1] or [" + N() + "]";
    case ShapeRule::VectorN: return "[" + N() + "]";
    case ShapeRule::Scalar: return "[1]";
    case ShapeRule::ScaleBias: return "[" + N() + ", 1] or [" + N() + ", 16]";
  }
  return "?";
}

bool dtype_accepted(const ParamSpec& p, DType t) {
  for (DType d : p.dtypes)
    if (d == t) return true;
  return false;
}

std::string dtypes_text(const ParamSpec& p) {
  std::string out;
  for (size_t i = 0; i < p.dtypes.size(); ++i) {
    if (i) out += i + 1 == p.dtypes.size() ? " or " : ", ";
    out += dtype_name(p.dtypes[i]);
  }
  return out;
}

}  // namespace qdit::quant
