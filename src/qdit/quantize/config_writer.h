// Writes the small JSON files that make a folder a Wan checkpoint: a component's config.json, in Diffusers
// (WanTransformer3DModel) or native Wan (WanModel) form, and a Diffusers pipeline's model_index.json.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "qdit/models/wan/config.h"
#include "qdit/quantize/output_layout.h"

namespace qdit::quantize {

// Diffusers: _class_name WanTransformer3DModel, num_attention_heads, attention_head_dim, ffn_dim, num_layers,
// in_channels, out_channels, text_dim, freq_dim, eps, patch_size, qk_norm, cross_attn_norm, rope_max_seq_len,
// image_dim / added_kv_proj_dim (I2V image branch, else null).
// Native: _class_name WanModel, model_type (t2v / i2v / ti2v), dim, ffn_dim, num_heads, num_layers, in_dim,
// out_dim, text_len, freq_dim, eps, patch_size.
nlohmann::ordered_json wan_config_json(const wan::WanConfig& config, NameSpace names);

// model_index.json of a Diffusers Wan pipeline holding only its transformer(s): Wan2.2 A14B has two experts
// (transformer = high noise, transformer_2 = low noise) and the boundary_ratio that switches between them.
nlohmann::ordered_json pipeline_index_json(int experts, double boundary_ratio);

// Writes `j` (2-space indented) to `path` through a temporary file and a rename; Io error naming the file.
void write_json_file(const std::string& path, const nlohmann::ordered_json& j);

}  // namespace qdit::quantize
