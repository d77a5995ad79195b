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
  // FLF2V (native model_type "flf2v", Diffusers pos_embed_seq_len): a learned position embedding
  // condition_embedder.image_embedder.pos_embed [1, image_tokens, image_dim] added to the CLIP tokens
  // (image_tokens = 514: two 257-token clips).
  bool image_pos_embed = false;
  int64_t rope_max_seq_len = 1024;  // RoPE table length per axis
  // The native config's model_type ("t2v", "i2v", "ti2v", "flf2v"); empty for a Diffusers config.
  std::string model_type;
  int64_t head_dim() const { return dim / num_heads; }
};

// Reads config.json (either form); errors name the file and the key. Checkpoint error for a missing or
// ill-typed key, an unsupported value (patch size other than (1, 2, 2), qk_norm other than
// "rms_norm_across_heads", cross_attn_norm false, unknown model_type), an odd head dim, or a dim not
// divisible by the head count; Io error for an unreadable file.
// Diffusers form, all required: num_attention_heads, attention_head_dim, in_channels, out_channels, text_dim,
//   freq_dim, ffn_dim, num_layers, eps, patch_size, rope_max_seq_len, qk_norm, cross_attn_norm, image_dim and
//   added_kv_proj_dim (null when there is no image branch); optional: pos_embed_seq_len.
// Native form, required: dim, ffn_dim, num_heads, num_layers, in_dim, out_dim, text_len, freq_dim, eps,
//   model_type; optional with WanModel's own defaults (the released config.json files omit them): patch_size
//   [1, 2, 2], text_dim 4096, qk_norm true, cross_attn_norm true, window_size [-1, -1].
WanConfig parse_wan_config_file(const std::string& path);
WanConfig parse_wan_config_text(const std::string& json_text, const std::string& path_for_errors);
// Native "i2v" config.json files of Wan2.1 I2V (CLIP image branch, img_emb.*) and Wan2.2 I2V-A14B (no branch)
// are identical; parsing assumes Wan2.1's branch and the checkpoint's tensors settle it: pass whether the
// checkpoint has image-embedder tensors (img_emb.* / condition_embedder.image_embedder.*). For every other
// config, a disagreement is a Checkpoint error naming the file. Returns the settled config (variant re-named).
WanConfig settle_image_branch(WanConfig c, bool checkpoint_has_image_tensors, const std::string& path_for_errors);
// Names the released variant these sizes match, or "custom". The Wan2.2 T2V-A14B experts have exactly the
// Wan2.1 T2V-14B architecture, so their sizes are named "wan2.1-t2v-14b" (a two-expert pipeline tree is what
// tells them apart).
std::string identify_variant(const WanConfig& c);
// The released configurations, by variant id ("wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "wan2.1-i2v-14b",
// "wan2.2-t2v-a14b", "wan2.2-i2v-a14b", "wan2.2-ti2v-5b"); Usage error for an unknown id.
WanConfig released_config(const std::string& variant);

}  // namespace qdit::wan
