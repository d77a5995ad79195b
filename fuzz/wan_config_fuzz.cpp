// libFuzzer target for the Wan config.json parser (models/wan/config.h) and the schema derived from it
// (models/wan/schema.h). The input is the text of a config.json in either form. The only acceptable outcome of
// parsing is a WanConfig or a qdit::Error; any other exception escapes to libFuzzer and is reported as a crash.
// A config the parser accepted must then settle and build its schema without any error (the parser promises
// sizes whose products fit in int64); the parsed sizes are re-checked against the parser's contract and the
// schema's parameter count against a closed form of wan-dit.md §2.1 evaluated in 128-bit arithmetic.
#include <cstddef>
#include <cstdint>
#include <cmath>
#include <cstdlib>
#include <string>

#include "qdit/core/error.h"
#include "qdit/models/wan/config.h"
#include "qdit/models/wan/schema.h"

namespace {

using i128 = __int128;

// build_schema declares ~30 parameters per block, so its memory grows with num_layers only (the sizes are just
// numbers in shapes, never allocated). Released models have at most 40 blocks; more than this is skipped so
// that every run stays small (the parser itself accepts any count whose parameter total fits in int64).
constexpr int64_t kMaxFuzzLayers = 64;

// wan-dit.md §2.1, written out per table row.
i128 closed_form_parameter_count(const qdit::wan::WanConfig& c) {
  const i128 D = c.dim, F = c.ffn_dim, I = c.image_dim;
  const i128 patch = i128(c.patch_t) * c.patch_h * c.patch_w;
  const i128 linear_dd = D * D + D;
  i128 n = D * c.in_channels * patch + D;                  // patch_embedding
  n += D * c.freq_dim + D + linear_dd + 6 * D * D + 6 * D;  // time MLP and the 6D projection
  n += D * c.text_dim + D + linear_dd;                      // text MLP
  if (c.has_image_branch) {
    n += 2 * I + (I * I + I) + (D * I + D) + 2 * D;
    if (c.image_pos_embed) n += i128(c.image_tokens) * I;
  }
  i128 block = 6 * D + 8 * linear_dd + 4 * D /* q/k RMSNorms */ + 2 * D /* norm2 */ + (F * D + F) + (D * F + D);
  if (c.has_image_branch) block += 2 * linear_dd + D;
  n += block * c.num_layers;
  n += 2 * D + i128(c.out_channels) * patch * D + i128(c.out_channels) * patch;  // head
  return n;
}

void check_config(const qdit::wan::WanConfig& c) {
  for (int64_t v : {c.dim, c.ffn_dim, c.num_heads, c.num_layers, c.in_channels, c.out_channels, c.text_dim,
                    c.freq_dim, c.text_len, c.rope_max_seq_len, c.image_dim, c.image_tokens}) {
    if (v <= 0) std::abort();
  }
  if (c.dim % c.num_heads != 0 || c.head_dim() % 2 != 0 || c.freq_dim % 2 != 0) std::abort();
  if (c.patch_t != 1 || c.patch_h != 2 || c.patch_w != 2) std::abort();
  if (!(c.eps > 0) || !std::isfinite(c.eps)) std::abort();
  if (c.image_pos_embed && !c.has_image_branch) std::abort();
  if (c.variant.empty()) std::abort();
  if (c.variant != "custom") {
    // A named variant has exactly the released sizes.
    const qdit::wan::WanConfig r = qdit::wan::released_config(c.variant);
    if (c.dim != r.dim || c.ffn_dim != r.ffn_dim || c.num_heads != r.num_heads || c.num_layers != r.num_layers ||
        c.in_channels != r.in_channels || c.out_channels != r.out_channels) {
      std::abort();
    }
  }
}

void check_schema(const qdit::wan::WanConfig& c) {
  const qdit::wan::WanSchema s = qdit::wan::build_schema(c);
  const i128 expected = closed_form_parameter_count(c);
  i128 summed = 0;
  for (const qdit::wan::ParamDecl& p : s.params) {
    i128 numel = 1;
    for (int64_t d : p.shape) {
      if (d <= 0) std::abort();
      numel *= d;
    }
    summed += numel;
    if (p.canonical.empty() || p.layer.empty()) std::abort();
  }
  if (summed != expected) std::abort();
  if (expected >= INT64_MAX) std::abort();  // the parser must have refused these sizes
  if (parameter_count(s) != static_cast<int64_t>(expected)) std::abort();
  if (qdit::wan::checked_parameter_count(c) != static_cast<int64_t>(expected)) std::abort();
  for (const qdit::wan::LinearDecl& l : s.linears) {
    if (l.runtime.empty() || l.out_features <= 0 || l.in_features <= 0) std::abort();
    if (l.num_merged == 0 ? l.merge_index != -1 : (l.merge_index < 0 || l.merge_index >= l.num_merged)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  qdit::wan::WanConfig c;
  try {
    c = qdit::wan::parse_wan_config_text(text, "<fuzz input>");
  } catch (const qdit::Error&) {
    return 0;
  }
  check_config(c);

  // The checkpoint's tensors decide the image branch of a native i2v config; try both answers.
  for (bool has_image_tensors : {false, true}) {
    qdit::wan::WanConfig settled;
    try {
      settled = qdit::wan::settle_image_branch(c, has_image_tensors, "<fuzz input>");
    } catch (const qdit::Error&) {
      continue;
    }
    if (settled.has_image_branch != has_image_tensors) std::abort();
    check_config(settled);
    if (settled.num_layers > kMaxFuzzLayers) continue;
    check_schema(settled);  // no error is acceptable here
  }
  return 0;
}
