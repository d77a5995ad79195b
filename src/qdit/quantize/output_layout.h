// Where a quantized component's files go and what they are called (modelslim-format.md §1.1):
//   ascendv1: quant_model_description.json + quant_model_weights.safetensors     (msModelSlim AscendV1 saver)
//   mindie:   quant_model_description_<type>.json + quant_model_weight_<type>.safetensors   (raw Wan recipe output)
//   repacked: quant_model_description.json + diffusion_pytorch_model.safetensors  (SGLang wan_repack, Diffusers tree)
// <type> is the lower-cased model_quant_type ("w8a8_dynamic").
#pragma once
#include <string>

namespace qdit::quantize {

enum class OutputLayout { AscendV1, MindIE, Repacked };
enum class NameSpace { Diffusers, Native };

// Parses the --layout / --names values; anything else is a Usage error listing the accepted values.
OutputLayout parse_output_layout(const std::string& s);
NameSpace parse_name_space(const std::string& s);
const char* layout_name(OutputLayout l);
const char* name_space_name(NameSpace n);

std::string description_file_name(OutputLayout l, const std::string& model_quant_type);
std::string weights_file_name(OutputLayout l, const std::string& model_quant_type);

// Whether the description carries the AscendV1 metadata keys ("version": "1.0.0", "group_size": 0, "metadata": {}).
// MindIE output has none of them (modelslim-format.md §1.2); the repacked layout keeps them because consumers
// (vllm-ascend, SGLang) look for quant_model_description.json and read `version`.
bool writes_ascendv1_metadata(OutputLayout l);
// MindIE-format always stores deq_scale as float32; the others store the int64 bit pattern unless the source
// model is bf16 (modelslim-format.md §2.1, §5 item 1).
bool deq_scale_as_int64(OutputLayout l, bool source_is_bf16);

// Folder names of the two experts of a Wan2.2 A14B pipeline: Diffusers `transformer` (high-noise) and
// `transformer_2` (low-noise); native Wan / raw msModelSlim `high_noise_model` and `low_noise_model`.
std::string component_folder(NameSpace n, int expert_index);
// The inverse for a source component's folder name: 1 for transformer_2 / low_noise_model, else 0.
int component_expert_index(const std::string& folder_name);

}  // namespace qdit::quantize
