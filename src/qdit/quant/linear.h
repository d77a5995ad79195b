// A linear layer ready to run: what the loader produces from a checkpoint (after decoding int64 deq_scale,
// unpacking int4, flattening [N,1] scales, concatenating fused shards along N) and what ops::linear consumes.
// One struct for every scheme so that model code never branches on the scheme.
#pragma once
#include <cstdint>
#include <string>

#include "qdit/core/tensor.h"

namespace qdit {

// The schemes qdit runs. Recognised-but-not-runnable type strings never become a SchemeId (see quant/types.h).
enum class SchemeId : uint8_t { Float, W8A8, W8A8Dynamic, W4A4Dynamic, W8A16, W4A8Dynamic };

// The ModelSlim spelling: "FLOAT", "W8A8", "W8A8_DYNAMIC", "W4A4_DYNAMIC", "W8A16", "W4A8_DYNAMIC".
// Inline so that qdit_ops, which links only qdit_core, can name schemes in its errors without its own table.
inline const char* scheme_name(SchemeId s) {
  switch (s) {
    case SchemeId::Float: return "FLOAT";
    case SchemeId::W8A8: return "W8A8";
    case SchemeId::W8A8Dynamic: return "W8A8_DYNAMIC";
    case SchemeId::W4A4Dynamic: return "W4A4_DYNAMIC";
    case SchemeId::W8A16: return "W8A16";
    case SchemeId::W4A8Dynamic: return "W4A8_DYNAMIC";
  }
  return "?";
}

struct QuantLinear {
  SchemeId scheme = SchemeId::Float;
  int64_t out_features = 0;  // N
  int64_t in_features = 0;   // K
  // Canonical (Diffusers) name of the layer, e.g. "blocks.3.attn1.to_out.0": only for error messages, may be empty.
  std::string name;

  // Float: F32, BF16 or F16 [N,K] as stored (a zero-copy mmap view when possible).
  // W8A8, W8A8_DYNAMIC, W8A16: I8 [N,K]. W4A4_DYNAMIC, W4A8_DYNAMIC: I8 [N,K] holding values in [-8,7]
  // (W4A8 v1.0.0 is unpacked from [N/2,K] at load).
  Tensor weight;

  // F32 [N], or undefined when the layer has no bias. For static W8A8 this stays undefined even when the
  // checkpoint has a float bias: that bias is already folded into quant_bias and must not be added again.
  Tensor bias;

  // Per-output-channel weight scale s_w, F32 [N]: W8A8_DYNAMIC, W4A4_DYNAMIC, W4A8_DYNAMIC, W8A16.
  Tensor weight_scale;
  // Per-output-channel weight offset z, F32 [N]: W8A16 only ((W_q - z) * s); undefined means zero.
  Tensor weight_offset;

  // Static W8A8: activation quantization x_q = sat8(round_half_even(x / input_scale + input_offset)).
  float input_scale = 0.0f;
  float input_offset = 0.0f;
  // Static W8A8: y = (acc + quant_bias) * deq_scale. F32 [N] (int64 on disk is bit-decoded) and I32 [N].
  Tensor deq_scale;
  Tensor quant_bias;

  // Activation quantization range for the dynamic schemes: 127 for int8, 7 for int4.
  int act_qmax() const { return scheme == SchemeId::W4A4Dynamic ? 7 : 127; }
  int act_qmin() const { return scheme == SchemeId::W4A4Dynamic ? -8 : -128; }
  bool quantizes_activations() const {
    return scheme == SchemeId::W8A8 || scheme == SchemeId::W8A8Dynamic || scheme == SchemeId::W4A4Dynamic ||
           scheme == SchemeId::W4A8Dynamic;
  }
};

}  // namespace qdit
