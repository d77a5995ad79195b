// A Wan DiT with random weights, built directly on the device the benchmark runs on: no checkpoint, no host copy
// (a 14B model is 14-28 GB). Layers get the runtime form a loaded ModelSlim checkpoint would have:
//  - quantizable layers (schema: every in-block linear and proj_out) not matched by an --exclude glob take the
//    scheme: int8 weights (values in [-qmax, qmax]; int4 schemes in [-7, 7]) with per-channel scales sized so the
//    dequantized weight has std 1/sqrt(fan-in), like a trained model's; static W8A8 also gets its per-tensor
//    activation parameters, deq_scale and quant_bias;
//  - every other linear (embedder MLPs, patch embedding, excluded layers) is FLOAT with BF16 weights, as released
//    checkpoints store them;
//  - biases, norm weights and modulation tables are F32 in plausible ranges.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "qdit/models/wan/weights.h"

namespace qdit::bench {

struct SyntheticModelSpec {
  wan::WanConfig config;
  SchemeId scheme = SchemeId::W8A8Dynamic;
  std::vector<std::string> excludes;  // globs on canonical (Diffusers) layer names, e.g. '*ffn.net.2*'
  Device device = Device::CUDA;
  uint64_t seed = 1;
};

struct SyntheticModel {
  wan::WanWeights weights;
  std::map<std::string, SchemeId> layer_schemes;  // runtime layer name -> scheme it runs
  int quantized_layers = 0, float_layers = 0;       // runtime layers
  int64_t weight_bytes = 0;                         // every tensor of `weights`
};

// Usage error for an exclude glob that matches no layer (a typo would silently benchmark something else) and for
// a glob that splits a fused runtime layer (q|k|v, k|v) between two schemes.
SyntheticModel synthetic_model(const SyntheticModelSpec& spec);

// --scheme spellings: float, w8a8, w8a8_dynamic, w4a4_dynamic, w4a8_dynamic, w8a16 (case-insensitive); Usage
// error otherwise.
SchemeId parse_bench_scheme(const std::string& s);

}  // namespace qdit::bench
