// The config.json of a Diffusers `WanTransformer3DModel` (a Wan2.1 T2V layout: no image branch) for the tiny
// checkpoints the load and CLI tests write, from the few sizes they vary.
#pragma once
#include <cstdint>

#include <nlohmann/json.hpp>

namespace qdit::test {

struct DiffusersDims {
  int64_t dim, heads, in_channels, out_channels, text_dim, freq_dim, ffn_dim, layers;
};

inline nlohmann::json diffusers_config_json(const DiffusersDims& d) {
  return {{"_class_name", "WanTransformer3DModel"},
          {"num_attention_heads", d.heads},
          {"attention_head_dim", d.dim / d.heads},
          {"in_channels", d.in_channels},
          {"out_channels", d.out_channels},
          {"text_dim", d.text_dim},
          {"freq_dim", d.freq_dim},
          {"ffn_dim", d.ffn_dim},
          {"num_layers", d.layers},
          {"eps", 1e-6},
          {"patch_size", {1, 2, 2}},
          {"rope_max_seq_len", 1024},
          {"qk_norm", "rms_norm_across_heads"},
          {"cross_attn_norm", true},
          {"image_dim", nullptr},
          {"added_kv_proj_dim", nullptr}};
}

}  // namespace qdit::test
