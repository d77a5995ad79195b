// Wan DiT hyper-parameters, read from a component's config.json in Diffusers form
// (WanTransformer3DModel: num_attention_heads, attention_head_dim, ffn_dim, num_layers, in_channels, ...)
// or native Wan form (dim, ffn_dim, num_heads, num_layers, in_dim, out_dim, model_type, ...).
#pragma once
#include <cstdint>
#include <string>

namespace qdit::wan {

struct WanConfig {
  std::string variant;  // "wan2.1-t2v-1.3b", ..., or "custom" when the sizes match no released model
  int64_t dim = 0;          // D
  int64_t ffn_dim = 0;      // F
  int64_t num_heads = 0;    // Nh (head_dim = D / Nh)
  int64_t num_layers = 0;
  int64_t in_channels = 0;  // Cin
  int64_t out_channels = 0; // Cout
  int64_t text_dim = 4096;
  int64_t freq_dim = 256;
  int64_t text_len = 512;
  int64_t patch_t = 1, patch_h = 2, patch_w = 2;
  float eps = 1e-6f;
  // Wan2.1 I2V CLIP branch (image_dim / added_kv_proj_dim in Diffusers, model_type "i2v" with img_emb natively).
  bool has_image_branch = false;
  int64_t image_dim = 1280;
  int64_t image_tokens = 257;
  int64_t head_dim() const { return dim / num_heads; }
};

// Reads config.json (either form); errors name the file and the key.
WanConfig parse_wan_config_file(const std::string& path);
WanConfig parse_wan_config_text(const std::string& json_text, const std::string& path_for_errors);
// Names the released variant these sizes match, or "custom".
std::string identify_variant(const WanConfig& c);
// The released configurations, by variant id ("wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "wan2.1-i2v-14b",
// "wan2.2-t2v-a14b", "wan2.2-i2v-a14b", "wan2.2-ti2v-5b"); Usage error for an unknown id.
WanConfig released_config(const std::string& variant);

}  // namespace qdit::wan
