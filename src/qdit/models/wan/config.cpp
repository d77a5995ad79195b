// config.json -> WanConfig, in either the Diffusers (WanTransformer3DModel) or the native Wan (WanModel) form.
#include "qdit/models/wan/config.h"

#include <cstdint>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "qdit/core/error.h"
#include "qdit/io/json_file.h"
#include "qdit/models/wan/error_context.h"
#include "qdit/models/wan/schema.h"

namespace qdit::wan {
namespace {

using nlohmann::json;

std::string describe_value(const json& v) {
  std::string dumped = v.dump();
  if (dumped.size() > 60) dumped = dumped.substr(0, 57) + "...";
  return std::string(v.type_name()) + " " + dumped;
}

// Reads typed keys of one config object; every error names the file and the key.
class KeyReader {
 public:
  KeyReader(const json& j, const std::string& path) : j_(j), path_(path) {}

  bool has(const char* key) const { return j_.contains(key); }
  bool is_null(const char* key) const { return j_.contains(key) && j_.at(key).is_null(); }

  const json& required(const char* key, const char* expected) const {
    if (!j_.contains(key)) fail("config key '" + std::string(key) + "' is missing", expected, "no such key");
    return j_.at(key);
  }

  int64_t positive_int(const char* key) const { return check_positive_int(key, required(key, "a positive integer")); }

  int64_t check_positive_int(const char* key, const json& v) const {
    if (!v.is_number_integer()) ill_typed(key, "a positive integer", v);
    // nlohmann stores every non-negative literal as unsigned, so 0 and values past int64 are checked there.
    const bool out_of_range = v.is_number_unsigned()
                                  ? (v.get<uint64_t>() == 0 || v.get<uint64_t>() > uint64_t(INT64_MAX))
                                  : v.get<int64_t>() <= 0;
    if (out_of_range) {
      fail("config key '" + std::string(key) + "' is out of range", "a positive integer", describe_value(v));
    }
    return v.get<int64_t>();
  }

  // A key that must be present but may be null (Diffusers writes every constructor argument).
  std::optional<int64_t> nullable_positive_int(const char* key) const {
    const json& v = required(key, "a positive integer or null");
    if (v.is_null()) return std::nullopt;
    return check_positive_int(key, v);
  }

  double positive_number(const char* key) const {
    const json& v = required(key, "a positive number");
    if (!v.is_number()) ill_typed(key, "a positive number", v);
    const double d = v.get<double>();
    if (!(d > 0)) fail("config key '" + std::string(key) + "' is out of range", "a positive number", describe_value(v));
    return d;
  }

  // The norms apply eps in fp32: a value that became 0 or infinity there would silently change them.
  float positive_fp32(const char* key) const {
    const double d = positive_number(key);
    if (d < std::numeric_limits<float>::denorm_min() || d > std::numeric_limits<float>::max()) {
      fail("config key '" + std::string(key) + "' is out of range", "a positive number representable in fp32",
           describe_value(j_.at(key)));
    }
    return static_cast<float>(d);
  }

  std::string string(const char* key) const {
    const json& v = required(key, "a string");
    if (!v.is_string()) ill_typed(key, "a string", v);
    return v.get<std::string>();
  }

  bool boolean(const json& v, const char* key) const {
    if (!v.is_boolean()) ill_typed(key, "true or false", v);
    return v.get<bool>();
  }

  [[noreturn]] void ill_typed(const char* key, const std::string& expected, const json& v) const {
    fail("config key '" + std::string(key) + "' has the wrong type", expected, describe_value(v));
  }

  [[noreturn]] void fail(const std::string& message, const std::string& expected, const std::string& found) const {
    fail_checkpoint(message, file_context(path_, expected, found));
  }

 private:
  const json& j_;
  const std::string& path_;
};

// qdit's patchify, RoPE grid and unpatchify are written for the released (1, 2, 2) patch.
void read_patch_size(const KeyReader& r, const json& v, WanConfig& c) {
  const char* key = "patch_size";
  if (!v.is_array() || v.size() != 3) r.ill_typed(key, "an array of 3 integers", v);
  int64_t p[3];
  for (int i = 0; i < 3; ++i) {
    if (!v[i].is_number_integer()) r.ill_typed(key, "an array of 3 integers", v);
    p[i] = v[i].get<int64_t>();
  }
  if (p[0] != 1 || p[1] != 2 || p[2] != 2) {
    r.fail("unsupported patch_size: qdit implements the (1, 2, 2) patch of every released Wan DiT", "[1, 2, 2]",
           v.dump());
  }
  c.patch_t = p[0], c.patch_h = p[1], c.patch_w = p[2];
}

void read_diffusers(const KeyReader& r, WanConfig& c) {
  c.num_heads = r.positive_int("num_attention_heads");
  const int64_t head_dim = r.positive_int("attention_head_dim");
  if (__builtin_mul_overflow(c.num_heads, head_dim, &c.dim)) {
    r.fail("config keys 'num_attention_heads' x 'attention_head_dim' overflow 64 bits", "a model dim below 2^63",
           std::to_string(c.num_heads) + " x " + std::to_string(head_dim));
  }
  c.in_channels = r.positive_int("in_channels");
  c.out_channels = r.positive_int("out_channels");
  c.text_dim = r.positive_int("text_dim");
  c.freq_dim = r.positive_int("freq_dim");
  c.ffn_dim = r.positive_int("ffn_dim");
  c.num_layers = r.positive_int("num_layers");
  c.eps = r.positive_fp32("eps");
  read_patch_size(r, r.required("patch_size", "an array of 3 integers"), c);
  c.rope_max_seq_len = r.positive_int("rope_max_seq_len");

  const json& qk = r.required("qk_norm", "\"rms_norm_across_heads\"");
  if (!qk.is_string() || qk.get<std::string>() != "rms_norm_across_heads") {
    r.fail("unsupported qk_norm: qdit implements one RMSNorm across all heads, as every released Wan DiT",
           "\"rms_norm_across_heads\"", describe_value(qk));
  }
  if (!r.boolean(r.required("cross_attn_norm", "true"), "cross_attn_norm")) {
    r.fail("unsupported cross_attn_norm: qdit implements the affine LayerNorm before cross-attention", "true",
           "false");
  }

  const std::optional<int64_t> image_dim = r.nullable_positive_int("image_dim");
  const std::optional<int64_t> added_kv = r.nullable_positive_int("added_kv_proj_dim");
  if (image_dim.has_value() != added_kv.has_value()) {
    r.fail("inconsistent image branch: image_dim and added_kv_proj_dim must both be set (Wan2.1 I2V) or both null",
           "both set or both null",
           "image_dim " + (image_dim ? std::to_string(*image_dim) : std::string("null")) + ", added_kv_proj_dim " +
               (added_kv ? std::to_string(*added_kv) : std::string("null")));
  }
  if (image_dim) {
    // add_k_proj/add_v_proj read the image embedder's output, which is D wide.
    if (*added_kv != c.dim) {
      r.fail("config key 'added_kv_proj_dim' must equal the model dim (num_attention_heads x attention_head_dim)",
             std::to_string(c.dim), std::to_string(*added_kv));
    }
    c.has_image_branch = true;
    c.image_dim = *image_dim;
  }
  if (r.has("pos_embed_seq_len") && !r.is_null("pos_embed_seq_len")) {
    const int64_t tokens = r.positive_int("pos_embed_seq_len");
    if (!c.has_image_branch) {
      r.fail("config key 'pos_embed_seq_len' is set but the model has no image branch", "image_dim set",
             "image_dim null");
    }
    c.image_pos_embed = true;
    c.image_tokens = tokens;
  }
}

void read_native(const KeyReader& r, WanConfig& c) {
  c.dim = r.positive_int("dim");
  c.ffn_dim = r.positive_int("ffn_dim");
  c.num_heads = r.positive_int("num_heads");
  c.num_layers = r.positive_int("num_layers");
  c.in_channels = r.positive_int("in_dim");
  c.out_channels = r.positive_int("out_dim");
  c.text_len = r.positive_int("text_len");
  c.freq_dim = r.positive_int("freq_dim");
  c.eps = r.positive_fp32("eps");
  c.model_type = r.string("model_type");
  if (c.model_type == "i2v") {
    c.has_image_branch = true;  // Wan2.1's reading; settle_image_branch() corrects it for Wan2.2 I2V
  } else if (c.model_type == "flf2v") {
    c.has_image_branch = true;
    c.image_pos_embed = true;
    c.image_tokens = 2 * 257;
  } else if (c.model_type != "t2v" && c.model_type != "ti2v") {
    r.fail("unsupported model_type", "\"t2v\", \"i2v\", \"ti2v\" or \"flf2v\"", "\"" + c.model_type + "\"");
  }
  // WanModel's constructor defaults, which the released native config.json files rely on.
  if (r.has("patch_size")) read_patch_size(r, r.required("patch_size", ""), c);
  if (r.has("text_dim")) c.text_dim = r.positive_int("text_dim");
  for (const char* key : {"qk_norm", "cross_attn_norm"}) {
    if (r.has(key) && !r.boolean(r.required(key, ""), key)) {
      r.fail("unsupported " + std::string(key) + " false: every released Wan DiT has it", "true", "false");
    }
  }
  if (r.has("window_size")) {
    const json& w = r.required("window_size", "");
    if (w != json::array({-1, -1})) {
      r.fail("unsupported window_size: qdit implements global attention", "[-1, -1]", describe_value(w));
    }
  }
}

void check_sizes(const KeyReader& r, const WanConfig& c) {
  if (c.dim % c.num_heads != 0) {
    r.fail("the model dim is not divisible by the number of heads",
           "dim a multiple of " + std::to_string(c.num_heads), std::to_string(c.dim));
  }
  // RoPE rotates channel pairs (2p, 2p+1) of each head.
  if (c.head_dim() % 2 != 0) {
    r.fail("the head dim must be even (RoPE rotates channel pairs)", "an even head dim",
           std::to_string(c.head_dim()));
  }
  if (c.freq_dim % 2 != 0) {
    r.fail("freq_dim must be even (the timestep sinusoid is [cos | sin] halves)", "an even freq_dim",
           std::to_string(c.freq_dim));
  }
  // build_schema() multiplies these sizes in int64; a config must not reach it with products past 2^63.
  if (!checked_parameter_count(c)) {
    r.fail("the sizes are so large that the model's parameter count overflows 64 bits",
           "a parameter count below 2^63",
           "dim " + std::to_string(c.dim) + ", ffn_dim " + std::to_string(c.ffn_dim) + ", num_layers " +
               std::to_string(c.num_layers));
  }
}

}  // namespace

WanConfig parse_wan_config_text(const std::string& json_text, const std::string& path) {
  check_json_nesting(json_text, path);
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    fail_checkpoint("config.json is not valid JSON", file_context(path, "a JSON object"));
  }
  KeyReader r(j, path);
  if (!j.is_object()) r.fail("config.json is not a JSON object", "a JSON object", std::string(j.type_name()));

  const std::string cls = j.contains("_class_name") && j["_class_name"].is_string() ? j["_class_name"].get<std::string>() : "";
  const bool diffusers_keys = j.contains("num_attention_heads");
  const bool native_keys = j.contains("num_heads") || j.contains("dim");
  bool diffusers;
  if (cls == "WanTransformer3DModel") {
    diffusers = true;
  } else if (cls == "WanModel") {
    diffusers = false;
  } else if (!cls.empty()) {
    r.fail("unsupported model class in config.json", "\"WanTransformer3DModel\" or \"WanModel\"", "\"" + cls + "\"");
  } else if (diffusers_keys != native_keys) {
    diffusers = diffusers_keys;
  } else {
    r.fail("config.json is neither a Diffusers nor a native Wan DiT config",
           "either num_attention_heads (Diffusers) or dim/num_heads (native Wan)",
           diffusers_keys ? "both" : "neither");
  }

  WanConfig c;
  if (diffusers) {
    read_diffusers(r, c);
  } else {
    read_native(r, c);
  }
  check_sizes(r, c);
  c.variant = identify_variant(c);
  return c;
}

WanConfig parse_wan_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_io("cannot open config file", file_context(path));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail_io("cannot read config file", file_context(path));
  return parse_wan_config_text(text.str(), path);
}

}  // namespace qdit::wan
