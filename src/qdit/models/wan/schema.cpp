#include "qdit/models/wan/schema.h"

#include <initializer_list>

#include "qdit/core/error.h"
#include "qdit/models/wan/error_context.h"

namespace qdit::wan {

const char* role_name(ParamRole r) {
  switch (r) {
    case ParamRole::LinearWeight: return "linear weight";
    case ParamRole::LinearBias: return "linear bias";
    case ParamRole::Norm: return "norm weight";
    case ParamRole::NormBias: return "norm bias";
    case ParamRole::Modulation: return "modulation table";
    case ParamRole::ConvWeight: return "conv weight";
    case ParamRole::ConvBias: return "conv bias";
    case ParamRole::PositionEmbedding: return "position embedding";
  }
  return "?";
}

namespace {

void check_config(const WanConfig& c) {
  const std::pair<const char*, int64_t> sizes[] = {
      {"dim", c.dim},           {"ffn_dim", c.ffn_dim},       {"num_heads", c.num_heads},
      {"num_layers", c.num_layers}, {"in_channels", c.in_channels}, {"out_channels", c.out_channels},
      {"text_dim", c.text_dim}, {"freq_dim", c.freq_dim},     {"patch_t", c.patch_t},
      {"patch_h", c.patch_h},   {"patch_w", c.patch_w},       {"image_dim", c.image_dim},
      {"image_tokens", c.image_tokens}};
  for (const auto& [name, value] : sizes) {
    if (value <= 0) {
      fail_usage("invalid Wan config: " + std::string(name) + " must be positive",
                 file_context("", "> 0", std::to_string(value)));
    }
  }
  if (c.dim % c.num_heads != 0) {
    fail_usage("invalid Wan config: dim is not divisible by the number of heads",
               file_context("", "a multiple of " + std::to_string(c.num_heads), std::to_string(c.dim)));
  }
  if (c.head_dim() % 2 != 0) {
    fail_usage("invalid Wan config: the head dim must be even (RoPE rotates channel pairs)",
               file_context("", "an even head dim", std::to_string(c.head_dim())));
  }
  // Shapes and the count are int64 products of the sizes; past int64 they would be undefined behaviour.
  if (!checked_parameter_count(c)) {
    fail_usage("invalid Wan config: sizes so large that the parameter count overflows 64 bits",
               file_context("", "a parameter count below 2^63",
                            "dim " + std::to_string(c.dim) + ", ffn_dim " + std::to_string(c.ffn_dim) +
                                ", num_layers " + std::to_string(c.num_layers)));
  }
}

// Saturating int64 arithmetic on non-negative values: INT64_MAX stands for "does not fit".
int64_t sat_mul(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}
int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}
int64_t sat_sum(std::initializer_list<int64_t> terms) {
  int64_t total = 0;
  for (int64_t t : terms) total = sat_add(total, t);
  return total;
}

class SchemaBuilder {
 public:
  explicit SchemaBuilder(const WanConfig& c) { s_.config = c; }

  void linear(const std::string& layer, int64_t out, int64_t in, bool quantizable) {
    add(layer + ".weight", {out, in}, ParamRole::LinearWeight, layer);
    add(layer + ".bias", {out}, ParamRole::LinearBias, layer);
    declare_linear(layer, out, in, quantizable);
  }

  void conv(const std::string& layer, const Shape& weight_shape) {
    add(layer + ".weight", weight_shape, ParamRole::ConvWeight, layer);
    add(layer + ".bias", {weight_shape[0]}, ParamRole::ConvBias, layer);
    declare_linear(layer, weight_shape[0], shape_numel(weight_shape) / weight_shape[0], false);
  }

  void layer_norm(const std::string& layer, int64_t width) {
    add(layer + ".weight", {width}, ParamRole::Norm, layer);
    add(layer + ".bias", {width}, ParamRole::NormBias, layer);
  }

  void rms_norm(const std::string& layer, int64_t width) { add(layer + ".weight", {width}, ParamRole::Norm, layer); }

  void table(const std::string& name, const Shape& shape, ParamRole role) { add(name, shape, role, name); }

  WanSchema finish() { return std::move(s_); }

 private:
  void add(std::string canonical, Shape shape, ParamRole role, const std::string& layer) {
    s_.params.push_back({std::move(canonical), std::move(shape), role, layer});
  }

  // The runtime layer and its slice come from the rule list, so the schema and the loader cannot disagree.
  void declare_linear(const std::string& layer, int64_t out, int64_t in, bool quantizable) {
    const MappedName m = wan_diffusers_to_runtime().map(layer + ".weight");
    QDIT_CHECK(!m.dropped && m.name.ends_with(".weight"),
               "the Diffusers->runtime rules must map " + layer + ".weight to a runtime weight, got '" + m.name + "'");
    std::string runtime = m.name.substr(0, m.name.size() - std::string(".weight").size());
    s_.linears.push_back({layer, out, in, quantizable, std::move(runtime), m.merge_index, m.num_merged});
  }

  WanSchema s_;
};

void add_block(SchemaBuilder& b, const WanConfig& c, int64_t i) {
  const std::string p = "blocks." + std::to_string(i) + ".";
  const int64_t D = c.dim, F = c.ffn_dim;
  b.table(p + "scale_shift_table", {1, 6, D}, ParamRole::Modulation);
  for (const char* proj : {"to_q", "to_k", "to_v", "to_out.0"}) b.linear(p + "attn1." + proj, D, D, true);
  b.rms_norm(p + "attn1.norm_q", D);
  b.rms_norm(p + "attn1.norm_k", D);
  b.layer_norm(p + "norm2", D);  // the affine LayerNorm before cross-attention (native norm3)
  for (const char* proj : {"to_q", "to_k", "to_v", "to_out.0"}) b.linear(p + "attn2." + proj, D, D, true);
  b.rms_norm(p + "attn2.norm_q", D);
  b.rms_norm(p + "attn2.norm_k", D);
  if (c.has_image_branch) {
    // The image tokens arrive D wide from the image embedder, hence [D, D].
    b.linear(p + "attn2.add_k_proj", D, D, true);
    b.linear(p + "attn2.add_v_proj", D, D, true);
    b.rms_norm(p + "attn2.norm_added_k", D);
  }
  b.linear(p + "ffn.net.0.proj", F, D, true);
  b.linear(p + "ffn.net.2", D, F, true);
}

}  // namespace

WanSchema build_schema(const WanConfig& c) {
  check_config(c);
  const int64_t D = c.dim;
  const int64_t patch = c.patch_t * c.patch_h * c.patch_w;
  SchemaBuilder b(c);
  b.conv("patch_embedding", {D, c.in_channels, c.patch_t, c.patch_h, c.patch_w});
  b.linear("condition_embedder.time_embedder.linear_1", D, c.freq_dim, false);
  b.linear("condition_embedder.time_embedder.linear_2", D, D, false);
  b.linear("condition_embedder.time_proj", 6 * D, D, false);
  b.linear("condition_embedder.text_embedder.linear_1", D, c.text_dim, false);
  b.linear("condition_embedder.text_embedder.linear_2", D, D, false);
  if (c.has_image_branch) {
    b.layer_norm("condition_embedder.image_embedder.norm1", c.image_dim);
    b.linear("condition_embedder.image_embedder.ff.net.0.proj", c.image_dim, c.image_dim, false);
    b.linear("condition_embedder.image_embedder.ff.net.2", D, c.image_dim, false);
    b.layer_norm("condition_embedder.image_embedder.norm2", D);
    if (c.image_pos_embed) {
      b.table("condition_embedder.image_embedder.pos_embed", {1, c.image_tokens, c.image_dim},
              ParamRole::PositionEmbedding);
    }
  }
  for (int64_t i = 0; i < c.num_layers; ++i) add_block(b, c, i);
  b.table("scale_shift_table", {1, 2, D}, ParamRole::Modulation);
  b.linear("proj_out", c.out_channels * patch, D, true);
  return b.finish();
}

std::optional<int64_t> checked_parameter_count(const WanConfig& c) {
  const int64_t D = c.dim, F = c.ffn_dim, I = c.image_dim;
  const int64_t patch = sat_mul(sat_mul(c.patch_t, c.patch_h), c.patch_w);
  const int64_t linear_dd = sat_add(sat_mul(D, D), D);
  const int64_t block = sat_sum({sat_mul(6, D),                                          // modulation table
                                 sat_mul(8, linear_dd),                                  // attn1, attn2 q/k/v/out
                                 sat_mul(4, D), sat_mul(2, D),                           // q/k RMSNorms, norm2
                                 sat_add(sat_mul(F, D), F), sat_add(sat_mul(D, F), D),  // FFN
                                 c.has_image_branch ? sat_add(sat_mul(2, linear_dd), D) : 0});
  const int64_t out = sat_mul(c.out_channels, patch);
  int64_t total = sat_sum({sat_add(sat_mul(sat_mul(D, c.in_channels), patch), D),  // patch embedding
                           sat_add(sat_mul(D, c.freq_dim), D), linear_dd,           // time MLP
                           sat_add(sat_mul(sat_mul(6, D), D), sat_mul(6, D)),       // time projection
                           sat_add(sat_mul(D, c.text_dim), D), linear_dd,           // text MLP
                           sat_mul(block, c.num_layers),                            // blocks
                           sat_mul(2, D), sat_add(sat_mul(out, D), out)});          // head
  if (c.has_image_branch) {
    total = sat_sum({total, sat_mul(2, I), sat_add(sat_mul(I, I), I), sat_add(sat_mul(D, I), D), sat_mul(2, D),
                     c.image_pos_embed ? sat_mul(c.image_tokens, I) : 0});
  }
  if (total == INT64_MAX) return std::nullopt;
  return total;
}

int64_t parameter_count(const WanSchema& s) {
  int64_t total = 0;
  for (const ParamDecl& p : s.params) total += shape_numel(p.shape);
  return total;
}

}  // namespace qdit::wan
