#include "qdit/quantize/layer_quantizer.h"

#include <cstring>

#include "qdit/quant/decode.h"
#include "qdit/quant/scheme.h"
#include "qdit/quantize/weight_quantizer.h"

namespace qdit::quantize {

namespace {

using quant::ParamSpec;
using quant::Slot;

bool is_written(SchemeId scheme, const ParamSpec& p, bool has_bias) {
  if (p.suffix == "bias") return has_bias;
  if (p.required) return true;
  // AscendV1 static W8A8 carries neither weight_scale nor weight_offset (modelslim-format.md §2.1, §5 item 5);
  // the per-channel dynamic and weight-only schemes carry an all-zero weight_offset (§2.2, §2.4, §2.5).
  if (p.suffix == "weight_offset") return scheme != SchemeId::W8A8;
  return false;
}

DType written_dtype(const ParamSpec& p, const LayerQuantOptions& opt) {
  if (p.suffix == "deq_scale") return opt.deq_scale_int64 ? DType::I64 : DType::F32;
  return p.dtypes.front();
}

Tensor widen_bias(const Tensor& bias, int64_t n) {
  Tensor out = Tensor::empty({n}, DType::F32);
  for (int64_t i = 0; i < n; ++i) out.data<float>()[i] = static_cast<float>(element_as_double(bias, i));
  return out;
}

}  // namespace

SchemeId parse_target_scheme(const std::string& s) {
  if (s == "w8a8") return SchemeId::W8A8;
  if (s == "w8a8_dynamic") return SchemeId::W8A8Dynamic;
  if (s == "w4a4_dynamic") return SchemeId::W4A4Dynamic;
  if (s == "w8a16") return SchemeId::W8A16;
  ErrorContext c;
  c.expected = "w8a8, w8a8_dynamic, w4a4_dynamic or w8a16";
  c.found = s;
  fail_usage("unknown --scheme '" + s + "'", c);
}

const char* target_scheme_flag(SchemeId s) {
  switch (s) {
    case SchemeId::W8A8: return "w8a8";
    case SchemeId::W8A8Dynamic: return "w8a8_dynamic";
    case SchemeId::W4A4Dynamic: return "w4a4_dynamic";
    case SchemeId::W8A16: return "w8a16";
    default: return "?";
  }
}

std::vector<LayerTensorDecl> quantized_layer_decls(const LayerQuantOptions& opt, int64_t n, int64_t k,
                                                   bool has_bias) {
  const quant::SchemeDecl& decl = quant::scheme_decl(opt.scheme);
  std::vector<LayerTensorDecl> out;
  for (const ParamSpec& p : decl.params) {
    if (!is_written(opt.scheme, p, has_bias)) continue;
    const auto shapes = quant::accepted_shapes(p.shape, n, k);
    QDIT_CHECK(!shapes.empty(), "no shape for " + std::string(p.suffix));
    out.push_back({std::string(p.suffix), written_dtype(p, opt), shapes.front(),
                   p.suffix == "bias" ? "FLOAT" : std::string(decl.name)});
  }
  return out;
}

std::vector<LayerTensor> quantize_layer(const Tensor& weight, const Tensor& bias, const LayerQuantOptions& opt,
                                        const ErrorContext& ctx) {
  const int64_t n = weight.dim(0), k = weight.dim(1);
  const bool has_bias = bias.defined() && bias.numel() > 0;
  QDIT_CHECK(!has_bias || bias.numel() == n, "bias must have N elements");
  QDIT_CHECK(opt.scheme != SchemeId::W8A8 || opt.activation, "static W8A8 needs calibrated activation parameters");
  ErrorContext c = ctx;
  c.scheme = scheme_name(opt.scheme);

  const WeightBits bits = opt.scheme == SchemeId::W4A4Dynamic ? WeightBits::Int4 : WeightBits::Int8;
  QuantizedWeight q = quantize_weight_per_channel(weight, bits, c);
  StaticFold fold;
  if (opt.scheme == SchemeId::W8A8) fold = fold_static_w8a8(q.values, q.scale, bias, *opt.activation, c);

  std::vector<LayerTensor> out;
  for (LayerTensorDecl& d : quantized_layer_decls(opt, n, k, has_bias)) {
    Tensor t;
    if (d.suffix == "weight") {
      t = q.values;
    } else if (d.suffix == "weight_scale") {
      t = q.scale;
    } else if (d.suffix == "weight_offset") {
      t = Tensor::zeros({n}, DType::F32);  // symmetric quantization: the zero point is 0 by construction
    } else if (d.suffix == "bias") {
      t = widen_bias(bias, n);
    } else if (d.suffix == "input_scale" || d.suffix == "input_offset") {
      t = Tensor::empty({1}, DType::F32);
      t.data<float>()[0] = d.suffix == "input_scale" ? opt.activation->scale : opt.activation->offset;
    } else if (d.suffix == "deq_scale") {
      if (d.dtype == DType::F32) {
        t = fold.deq_scale;
      } else {
        t = Tensor::empty({n}, DType::I64);
        for (int64_t i = 0; i < n; ++i)
          t.data<int64_t>()[i] = quant::encode_deq_scale_bits(fold.deq_scale.data<float>()[i]);
      }
    } else if (d.suffix == "quant_bias") {
      t = fold.quant_bias;
    } else {
      fail_internal("the quantizer does not know how to produce '" + d.suffix + "' for " +
                    scheme_name(opt.scheme), c);
    }
    QDIT_CHECK(t.dtype() == d.dtype && t.numel() == shape_numel(d.shape),
               "produced " + d.suffix + " does not match its declaration");
    out.push_back({d, t.reshape(d.shape)});
  }
  return out;
}

}  // namespace qdit::quantize
