#include "qdit/quantize/config_writer.h"

#include <charconv>
#include <cstdlib>

#include "qdit/quantize/description_writer.h"

namespace qdit::quantize {

namespace {
std::string native_model_type(const wan::WanConfig& c) {
  if (!c.model_type.empty()) return c.model_type;
  if (c.has_image_branch || c.in_channels == 36) return "i2v";
  // Wan2.2 TI2V-5B: 48 latent channels in and out, per-token timesteps.
  if (c.in_channels == 48) return "ti2v";
  return "t2v";
}
// config.json files carry eps as the short decimal a person wrote (1e-06), not fp32's widened 9.99999997e-07.
double shortest_decimal(float f) {
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, f);
  return std::strtod(std::string(buf, res.ptr).c_str(), nullptr);
}

}  // namespace

nlohmann::ordered_json wan_config_json(const wan::WanConfig& c, NameSpace names) {
  nlohmann::ordered_json j;
  const auto patch = nlohmann::ordered_json::array({c.patch_t, c.patch_h, c.patch_w});
  if (names == NameSpace::Diffusers) {
    j["_class_name"] = "WanTransformer3DModel";
    j["_diffusers_version"] = "0.35.0";
    j["added_kv_proj_dim"] = c.has_image_branch ? nlohmann::ordered_json(c.dim) : nlohmann::ordered_json();
    j["attention_head_dim"] = c.head_dim();
    j["cross_attn_norm"] = true;
    j["eps"] = shortest_decimal(c.eps);
    j["ffn_dim"] = c.ffn_dim;
    j["freq_dim"] = c.freq_dim;
    j["image_dim"] = c.has_image_branch ? nlohmann::ordered_json(c.image_dim) : nlohmann::ordered_json();
    j["in_channels"] = c.in_channels;
    j["num_attention_heads"] = c.num_heads;
    j["num_layers"] = c.num_layers;
    j["out_channels"] = c.out_channels;
    j["patch_size"] = patch;
    j["pos_embed_seq_len"] = c.image_pos_embed ? nlohmann::ordered_json(c.image_tokens) : nlohmann::ordered_json();
    j["qk_norm"] = "rms_norm_across_heads";
    j["rope_max_seq_len"] = c.rope_max_seq_len;
    j["text_dim"] = c.text_dim;
  } else {
    j["_class_name"] = "WanModel";
    j["_diffusers_version"] = "0.30.0";
    j["model_type"] = native_model_type(c);
    j["dim"] = c.dim;
    j["eps"] = shortest_decimal(c.eps);
    j["ffn_dim"] = c.ffn_dim;
    j["freq_dim"] = c.freq_dim;
    j["in_dim"] = c.in_channels;
    j["num_heads"] = c.num_heads;
    j["num_layers"] = c.num_layers;
    j["out_dim"] = c.out_channels;
    j["patch_size"] = patch;
    j["text_dim"] = c.text_dim;
    j["text_len"] = c.text_len;
  }
  return j;
}

nlohmann::ordered_json pipeline_index_json(int experts, double boundary_ratio) {
  nlohmann::ordered_json j;
  j["_class_name"] = "WanPipeline";
  j["_diffusers_version"] = "0.35.0";
  if (experts > 1) j["boundary_ratio"] = boundary_ratio;
  j["transformer"] = nlohmann::ordered_json::array({"diffusers", "WanTransformer3DModel"});
  if (experts > 1) j["transformer_2"] = nlohmann::ordered_json::array({"diffusers", "WanTransformer3DModel"});
  return j;
}

void write_json_file(const std::string& path, const nlohmann::ordered_json& j) {
  write_text_file_atomically(path, j.dump(2) + "\n");
}

}  // namespace qdit::quantize
