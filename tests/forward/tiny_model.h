// Tiny Wan models built in memory for the forward tests: configs shaped like each released variant (shrunk),
// random float weights scaled by fan-in, random inputs, and the same model quantized layer by layer into any
// mix of schemes (static W8A8 calibrated with the forward's own observer).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "forward/scheme_quantizer.h"
#include "qdit/models/wan/forward/wan_model.h"

namespace qdit::wan::testing {

enum class Variant { T2V_21, I2V_21, TI2V_22, A14B_22 };
const char* variant_name(Variant v);

// Config of a shrunken model of the variant: few blocks, small widths, odd channel counts; text_len stays 512
// and the I2V image branch keeps its 257 tokens.
WanConfig tiny_config(Variant v);

// Float weights (F32, or `float_dtype` BF16/F16 for the stored layer weights), N(0, 1/fan_in) matrices.
WanWeights random_float_weights(const WanConfig& c, uint64_t seed, DType float_dtype = DType::F32);

// Latent [Cin, frames, height, width] (height and width even), n_text valid text tokens, CLIP tokens when the
// config has an image branch. timestep: one value, or per token when `per_token` is given (called with the
// token's (frame, row, col) on the post-patch grid).
struct InputSpec {
  int64_t frames = 3, height = 4, width = 6, n_text = 7;
  float timestep = 917.0f;
  std::function<float(int64_t f, int64_t h, int64_t w)> per_token;
};
WanInputs random_inputs(const WanConfig& c, const InputSpec& spec, uint64_t seed);

// Every linear of the model with its runtime name (the names the forward's observer reports).
void for_each_linear(WanWeights& w, const std::function<void(const std::string&, QuantLinear&)>& fn);

// Per-layer input ranges observed over one fp32 forward (the calibration for static W8A8).
std::map<std::string, ActRange> calibrate(const WanWeights& float_model, const WanInputs& in);

// A copy of `float_model` (F32 weights) with every linear quantized to choose(runtime name); non-linear
// tensors are shared.
WanWeights quantize_model(const WanWeights& float_model, const std::function<SchemeId(const std::string&)>& choose,
                          const std::map<std::string, ActRange>& ranges);

// A tiny model of variant `v` in float and quantized per `choose` (static W8A8 calibrated on the float model),
// with its inputs (Wan2.2 TI2V: per-token timesteps, the first frame at 0). The CPU and GPU scheme tests share it.
struct SchemeModel {
  WanWeights float_model, quantized;
  WanInputs inputs;
};
SchemeModel build_scheme_model(Variant v, const std::function<SchemeId(const std::string&)>& choose, uint64_t seed);

}  // namespace qdit::wan::testing
