// Turns one float linear layer into the tensors its ModelSlim scheme stores. What is written is read from the
// scheme's declaration in quant/scheme.h (the one list of suffixes): each tensor in declaration order, in the
// first dtype and first shape the declaration accepts, with two format rules on top:
//  - static W8A8 deq_scale is F32 instead of the int64 bit pattern when the source model is bf16, and always in
//    the MindIE layout (modelslim-format.md §2.1);
//  - optional tensors are written the way msModelSlim's AscendV1 saver does: the float bias when the layer has
//    one (type FLOAT), the all-zero weight_offset of the per-channel dynamic / weight-only schemes, but no
//    weight_scale / weight_offset for static W8A8 (already inside deq_scale).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "qdit/core/error.h"
#include "qdit/core/tensor.h"
#include "qdit/quant/linear.h"
#include "qdit/quantize/static_w8a8.h"

namespace qdit::quantize {

// The --scheme values qdit quantize offers; Usage error for anything else.
SchemeId parse_target_scheme(const std::string& s);  // w8a8 | w8a8_dynamic | w4a4_dynamic | w8a16
const char* target_scheme_flag(SchemeId s);

struct LayerTensorDecl {
  std::string suffix;  // "weight", "deq_scale", ...
  DType dtype;
  Shape shape;
  std::string type;    // the description's type string for this tensor ("FLOAT" for the bias)
};

struct LayerTensor {
  LayerTensorDecl decl;
  Tensor data;  // CPU, exactly decl.dtype / decl.shape
};

struct LayerQuantOptions {
  SchemeId scheme = SchemeId::W8A8Dynamic;
  bool deq_scale_int64 = true;                       // see the header comment
  std::optional<StaticActivationParams> activation;  // required for static W8A8
};

// What quantize_layer() will produce for a layer of N outputs, K inputs, with or without a bias: known before
// any data is read, so a streaming writer can declare every tensor up front.
std::vector<LayerTensorDecl> quantized_layer_decls(const LayerQuantOptions& opt, int64_t n, int64_t k, bool has_bias);

// `weight` F32/BF16/F16 [N,K], `bias` F32/BF16/F16 [N] or undefined. Errors (non-finite weights, quant_bias out
// of int32) carry `ctx`.
std::vector<LayerTensor> quantize_layer(const Tensor& weight, const Tensor& bias, const LayerQuantOptions& opt,
                                        const ErrorContext& ctx);

}  // namespace qdit::quantize
