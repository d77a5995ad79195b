// The released Wan DiT configurations (wan-dit.md §1) and naming a config after them.
#include <array>

#include "qdit/core/error.h"
#include "qdit/models/wan/error_context.h"
#include "qdit/models/wan/config.h"

namespace qdit::wan {
namespace {

struct Released {
  const char* id;
  int64_t dim, ffn_dim, num_heads, num_layers, in_channels, out_channels;
  bool image_branch;
};

// wan2.2-t2v-a14b comes after wan2.1-t2v-14b on purpose: identical sizes, and identify_variant() names the first.
constexpr std::array<Released, 6> kReleased = {{
    {"wan2.1-t2v-1.3b", 1536, 8960, 12, 30, 16, 16, false},
    {"wan2.1-t2v-14b", 5120, 13824, 40, 40, 16, 16, false},
    {"wan2.1-i2v-14b", 5120, 13824, 40, 40, 36, 16, true},
    {"wan2.2-t2v-a14b", 5120, 13824, 40, 40, 16, 16, false},
    {"wan2.2-i2v-a14b", 5120, 13824, 40, 40, 36, 16, false},
    {"wan2.2-ti2v-5b", 3072, 14336, 24, 30, 48, 48, false},
}};

// What every released DiT shares (wan-dit.md §1); WanConfig's defaults are these values.
bool has_shared_settings(const WanConfig& c) {
  const WanConfig ref;
  return c.text_dim == ref.text_dim && c.freq_dim == ref.freq_dim && c.text_len == ref.text_len &&
         c.patch_t == ref.patch_t && c.patch_h == ref.patch_h && c.patch_w == ref.patch_w && c.eps == ref.eps &&
         c.rope_max_seq_len == ref.rope_max_seq_len && !c.image_pos_embed &&
         (!c.has_image_branch || (c.image_dim == ref.image_dim && c.image_tokens == ref.image_tokens));
}

}  // namespace

std::string identify_variant(const WanConfig& c) {
  if (!has_shared_settings(c)) return "custom";
  for (const Released& r : kReleased) {
    if (c.dim == r.dim && c.ffn_dim == r.ffn_dim && c.num_heads == r.num_heads && c.num_layers == r.num_layers &&
        c.in_channels == r.in_channels && c.out_channels == r.out_channels && c.has_image_branch == r.image_branch) {
      return r.id;
    }
  }
  return "custom";
}

WanConfig released_config(const std::string& variant) {
  for (const Released& r : kReleased) {
    if (variant != r.id) continue;
    WanConfig c;
    c.variant = r.id;
    c.dim = r.dim;
    c.ffn_dim = r.ffn_dim;
    c.num_heads = r.num_heads;
    c.num_layers = r.num_layers;
    c.in_channels = r.in_channels;
    c.out_channels = r.out_channels;
    c.has_image_branch = r.image_branch;
    return c;
  }
  std::string known;
  for (const Released& r : kReleased) known += (known.empty() ? "" : ", ") + std::string(r.id);
  fail_usage("unknown Wan variant", file_context("", "one of " + known, "'" + variant + "'"));
}

WanConfig settle_image_branch(WanConfig c, bool checkpoint_has_image_tensors, const std::string& path) {
  if (c.has_image_branch == checkpoint_has_image_tensors) return c;
  if (c.model_type == "i2v") {  // native config: Wan2.1 I2V and Wan2.2 I2V-A14B read the same
    c.has_image_branch = checkpoint_has_image_tensors;
    c.variant = identify_variant(c);
    return c;
  }
  const auto said = [](bool b) { return std::string(b ? "a CLIP image branch" : "no CLIP image branch"); };
  fail_checkpoint("config.json and the checkpoint's tensors disagree on the CLIP image branch",
                  file_context(path, said(c.has_image_branch) + " (from config.json)",
                               said(checkpoint_has_image_tensors) + " in the tensors"));
}

}  // namespace qdit::wan
