// Recognise a checkpoint from its path alone: file names, folder structure and the small JSON files that say
// what a folder is (model_index.json, config.json). No tensor data and no safetensors header is read.
#pragma once
#include <string>
#include <vector>

namespace qdit {

enum class LayoutKind {
  DiffusersPipeline,   // model_index.json + transformer/ (+ transformer_2/ for Wan2.2 A14B)
  DiffusersComponent,  // config.json in Diffusers form + *.safetensors, unquantized
  NativeComponent,     // config.json in native Wan form + *.safetensors (or high_noise_model/ + low_noise_model/)
  MsModelSlimRaw,      // quant_model_weight_<type>.safetensors + quant_model_description_<type>.json, native names
  AscendV1,            // quant_model_description.json + quant_model_weights[-0000i-of-0000n].safetensors
  DiffusersRepacked,   // diffusion_pytorch_model*.safetensors + quant_model_description.json, Diffusers names
};

struct ComponentFiles {
  std::string name;                     // "transformer", "transformer_2", or for raw output "high_noise_model"/"low_noise_model"
  std::string dir;
  LayoutKind layout;
  std::vector<std::string> weight_files;        // top-level *.safetensors of the folder, sorted; never optional/
  std::string index_file;                       // *.safetensors.index.json or "" (hint only)
  std::string description_file;                 // "" if the component is unquantized
  std::string config_file;                      // config.json or "" (raw msModelSlim output may lack it)
};

// kind: the layout of the whole tree; for a pipeline each component carries its own (component) layout.
struct CheckpointLayout {
  LayoutKind kind;
  std::string root;  // the path as given
  std::vector<ComponentFiles> components;
};

// `path` is a folder or a single .safetensors file (then the component is that file alone, with the config and
// description found beside it). Checkpoint error listing what was looked for when nothing matches; Io error if
// the path does not exist.
CheckpointLayout detect_layout(const std::string& path);
const char* layout_name(LayoutKind k);  // "diffusers-pipeline", "diffusers-component", "native-component",
                                        // "msmodelslim-raw", "ascend-v1", "diffusers-repacked"

}  // namespace qdit
