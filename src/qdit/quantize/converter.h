// `qdit convert`: renames a checkpoint and its description between native Wan names (original repos, raw
// msModelSlim output) and Diffusers names (Diffusers trees, SGLang's repacked checkpoints), per component, with
// the same rule lists the loader uses (models/wan/rules.h). Tensor bytes are copied unchanged (shards merged into
// one file per component); config.json is rewritten in the target form; description metadata is kept as is.
//
// Output file names: a quantized component becomes the repacked Diffusers layout (diffusion_pytorch_model.
// safetensors + quant_model_description.json) or the raw msModelSlim layout (quant_model_weight_<type>.safetensors +
// quant_model_description_<type>.json); a float one diffusion_pytorch_model.safetensors. A two-expert tree becomes
// transformer/ + transformer_2/ + model_index.json, or high_noise_model/ + low_noise_model/.
#pragma once
#include <string>
#include <vector>

#include "qdit/quantize/output_layout.h"

namespace qdit::quantize {

struct ConvertOptions {
  std::string src, out;
  NameSpace names = NameSpace::Diffusers;
  bool progress = false;
};

struct ConvertedComponent {
  std::string name, dir, weights_file, description_file;  // description_file "" for a float component
  std::string from;  // source namespace: "native" or "diffusers"
  int64_t tensors = 0, renamed = 0, description_entries = 0;
};

// Checkpoint errors for a tensor the rules would drop, two tensors renamed onto one name, or a description whose
// keys cannot be renamed; Usage error when --out is SRC.
std::vector<ConvertedComponent> convert_checkpoint(const ConvertOptions& opt);

}  // namespace qdit::quantize
