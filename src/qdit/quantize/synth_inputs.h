// Random inputs for one Wan DiT forward, in the file form `qdit run` reads and static W8A8 calibration uses
// (models/wan/forward/run_inputs.h): hidden_states N(0,1) like a noisy latent, a timestep, umT5-like text
// features and, for the Wan2.1 I2V image branch, CLIP-like image features.
#pragma once
#include <cstdint>
#include <string>

#include "qdit/models/wan/config.h"

namespace qdit::quantize {

struct SynthInputOptions {
  int64_t frames = 2, height = 8, width = 8;  // latent grid [Cin, T, H, W]; H and W must be even (2x2 patches)
  int64_t text_tokens = 16;                   // valid umT5 tokens, <= text_len
  float timestep = 500.0f;
  uint64_t seed = 0;
};

// Usage error for a grid that does not patchify or too many text tokens.
void write_synth_inputs(const std::string& path, const wan::WanConfig& config, const SynthInputOptions& opt);

}  // namespace qdit::quantize
