// `qdit synth`: a random-weight Wan checkpoint of any released variant (optionally shrunk), written as a real
// folder a user would download: config.json in Diffusers or native form, one safetensors file per component,
// and for Wan2.2 A14B a two-expert tree (Diffusers: model_index.json + transformer/ + transformer_2/;
// native: high_noise_model/ + low_noise_model/).
//
// Weights look like a trained model's in scale, not zeros: linear and conv weights N(0, 1/fan_in), biases
// N(0, 0.1^2), norm weights N(1, 0.05^2), norm biases N(0, 0.05^2), modulation tables N(0, 1/D) (the
// original Wan initialisation), FLF2V position embedding N(0, 0.02^2). Every tensor comes from its own stream keyed by (seed, expert, canonical name),
// so the same seed gives the same values in either namespace and any tensor order. Tensors are generated and
// written one at a time: a 14B-config synth never holds more than its largest tensor.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qdit/core/dtype.h"
#include "qdit/models/wan/config.h"
#include "qdit/models/wan/schema.h"
#include "qdit/quantize/output_layout.h"

namespace qdit::quantize {

struct SynthOptions {
  std::string variant;  // a released variant id (wan::released_config)
  std::optional<int64_t> layers, dim, heads, ffn;
  uint64_t seed = 0;
  DType dtype = DType::BF16;  // F32, BF16 or F16
  NameSpace names = NameSpace::Diffusers;
  std::string out;
  bool progress = false;  // draw a progress bar on stderr (the CLI passes isatty)
};

// The variant's released config with the size overrides applied. --dim without --heads keeps the variant's
// head dim (128); sizes no Wan DiT can have are Usage errors.
wan::WanConfig synth_config(const SynthOptions& opt);

// Number of experts (transformer components) the variant has: 2 for wan2.2-t2v-a14b / wan2.2-i2v-a14b, else 1.
int synth_experts(const std::string& variant);

// The value of one synthetic parameter (F32), exactly as synth writes it before the cast to the output dtype.
// Exposed so tests can regenerate any tensor independently of the file.
void synth_param_values(const wan::ParamDecl& p, const wan::WanConfig& c, uint64_t seed, int expert, float* out);

struct SynthResult {
  std::vector<std::string> component_dirs;
  int64_t tensors = 0;
  int64_t bytes = 0;
};

// Writes the checkpoint under opt.out (created if needed; existing files of the same name are replaced).
SynthResult synthesize(const SynthOptions& opt);

}  // namespace qdit::quantize
