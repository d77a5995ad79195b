#include "qdit/bench/synthetic_model.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "qdit/bench/random_fill.h"
#include "qdit/core/error.h"
#include "qdit/models/wan/forward/wan_model.h"
#include "qdit/models/wan/schema.h"
#include "qdit/ops/ops.h"
#include "qdit/quantize/exclude_globs.h"

namespace qdit::bench {

namespace {

// Per-tensor static W8A8 activation scale: an int8 grid over about +-8, the range of LayerNorm-ed, modulated
// activations. Only the arithmetic's cost matters to the benchmark, but the values stay plausible.
constexpr float kStaticInputScale = 8.0f / 127.0f;

std::map<std::string, SchemeId> assign_schemes(const SyntheticModelSpec& spec) {
  quantize::ExcludeGlobs globs(spec.excludes);
  const wan::WanSchema schema = wan::build_schema(spec.config);
  std::map<std::string, SchemeId> schemes;
  for (const wan::LinearDecl& l : schema.linears) {
    const bool excluded = globs.excludes(l.canonical);  // evaluated for every layer so each glob's use is seen
    const SchemeId s = l.quantizable && !excluded ? spec.scheme : SchemeId::Float;
    auto [it, inserted] = schemes.emplace(l.runtime, s);
    if (!inserted && it->second != s) {
      ErrorContext c;
      c.layer = l.runtime + " (" + l.canonical + ")";
      c.expected = "all parts of a fused layer in one scheme";
      c.found = std::string(scheme_name(it->second)) + " and " + scheme_name(s);
      fail_usage("--exclude splits a fused runtime layer between two schemes", c);
    }
  }
  const std::vector<std::string> unused = globs.unused();
  if (!unused.empty()) {
    ErrorContext c;
    c.expected = "a glob matching some canonical layer name, e.g. '*ffn.net.2*'";
    c.found = "'" + unused.front() + "'";
    fail_usage("--exclude matches no layer of " + spec.config.variant, c);
  }
  for (const std::string& name : wan::runtime_layer_names(spec.config))
    if (!schemes.count(name)) fail_internal("synthetic model: runtime layer '" + name + "' is not in the schema");
  return schemes;
}

struct Builder {
  const SyntheticModelSpec& spec;
  SyntheticModel& out;
  uint64_t counter = 0;

  uint64_t next_seed() { return spec.seed * 0x100000001b3ull + ++counter; }

  Tensor uniform(const Shape& shape, float lo, float hi, DType dtype = DType::F32) {
    Tensor t = ops::empty_persistent(shape, dtype, spec.device);
    fill_uniform(t, lo, hi, next_seed());
    out.weight_bytes += static_cast<int64_t>(t.nbytes());
    return t;
  }

  Tensor ints(const Shape& shape, int lo, int hi, DType dtype) {
    Tensor t = ops::empty_persistent(shape, dtype, spec.device);
    fill_uniform_int(t, lo, hi, next_seed());
    out.weight_bytes += static_cast<int64_t>(t.nbytes());
    return t;
  }

  Tensor bias(int64_t n) { return uniform({n}, -0.02f, 0.02f); }
  Tensor norm_weight(int64_t n) { return uniform({n}, 0.8f, 1.2f); }

  QuantLinear linear(const std::string& runtime, int64_t n, int64_t k) {
    const SchemeId s = out.layer_schemes.at(runtime);
    (s == SchemeId::Float ? out.float_layers : out.quantized_layers) += 1;
    QuantLinear l;
    l.scheme = s;
    l.out_features = n;
    l.in_features = k;
    const float a = std::sqrt(3.0f / static_cast<float>(k));  // uniform [-a, a] has std 1/sqrt(k)
    if (s == SchemeId::Float) {
      l.weight = uniform({n, k}, -a, a, DType::BF16);
      l.bias = bias(n);
      return l;
    }
    const int qmax = s == SchemeId::W4A4Dynamic || s == SchemeId::W4A8Dynamic ? 7 : 127;
    const float w_scale = a / static_cast<float>(qmax);
    l.weight = ints({n, k}, -qmax, qmax, DType::I8);
    if (s == SchemeId::W8A8) {
      l.input_scale = kStaticInputScale;
      l.input_offset = 0.0f;
      l.deq_scale = uniform({n}, 0.9f * w_scale * kStaticInputScale, 1.1f * w_scale * kStaticInputScale);
      l.quant_bias = ints({n}, -2000, 2000, DType::I32);  // a 0.02 bias over a deq_scale near 1e-5
      return l;
    }
    l.weight_scale = uniform({n}, 0.9f * w_scale, 1.1f * w_scale);
    l.bias = bias(n);
    return l;
  }
};

}  // namespace

SchemeId parse_bench_scheme(const std::string& s) {
  std::string lower = s;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "float" || lower == "bf16") return SchemeId::Float;
  if (lower == "w8a8") return SchemeId::W8A8;
  if (lower == "w8a8_dynamic") return SchemeId::W8A8Dynamic;
  if (lower == "w4a4_dynamic") return SchemeId::W4A4Dynamic;
  if (lower == "w4a8_dynamic") return SchemeId::W4A8Dynamic;
  if (lower == "w8a16") return SchemeId::W8A16;
  ErrorContext c;
  c.expected = "float, w8a8, w8a8_dynamic, w4a4_dynamic, w4a8_dynamic or w8a16";
  c.found = "'" + s + "'";
  fail_usage("unknown --scheme", c);
}

SyntheticModel synthetic_model(const SyntheticModelSpec& spec) {
  SyntheticModel out;
  out.layer_schemes = assign_schemes(spec);
  const wan::WanConfig& c = spec.config;
  const int64_t D = c.dim, F = c.ffn_dim;
  Builder b{spec, out};
  wan::WanWeights& w = out.weights;
  w.config = c;
  w.patch_embed = b.linear("patch_embed", D, c.in_channels * c.patch_t * c.patch_h * c.patch_w);
  w.time_fc1 = b.linear("time.fc1", D, c.freq_dim);
  w.time_fc2 = b.linear("time.fc2", D, D);
  w.time_proj = b.linear("time.proj", 6 * D, D);
  w.text_fc1 = b.linear("text.fc1", D, c.text_dim);
  w.text_fc2 = b.linear("text.fc2", D, D);
  if (c.has_image_branch) {
    w.image_norm_in_w = b.norm_weight(c.image_dim);
    w.image_norm_in_b = b.uniform({c.image_dim}, -0.05f, 0.05f);
    w.image_fc1 = b.linear("image.fc1", c.image_dim, c.image_dim);
    w.image_fc2 = b.linear("image.fc2", D, c.image_dim);
    w.image_norm_out_w = b.norm_weight(D);
    w.image_norm_out_b = b.uniform({D}, -0.05f, 0.05f);
  }
  w.blocks.resize(static_cast<size_t>(c.num_layers));
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string n = "blocks." + std::to_string(i) + ".";
    wan::WanBlockWeights& k = w.blocks[static_cast<size_t>(i)];
    k.modulation = b.uniform({6, D}, -0.1f, 0.1f);
    k.self_qkv = b.linear(n + "self_attn.qkv", 3 * D, D);
    k.self_norm_q = b.norm_weight(D);
    k.self_norm_k = b.norm_weight(D);
    k.self_out = b.linear(n + "self_attn.out", D, D);
    k.cross_norm_w = b.norm_weight(D);
    k.cross_norm_b = b.uniform({D}, -0.05f, 0.05f);
    k.cross_q = b.linear(n + "cross_attn.q", D, D);
    k.cross_kv = b.linear(n + "cross_attn.kv", 2 * D, D);
    k.cross_norm_q = b.norm_weight(D);
    k.cross_norm_k = b.norm_weight(D);
    if (c.has_image_branch) {
      k.cross_kv_img = b.linear(n + "cross_attn.kv_img", 2 * D, D);
      k.cross_norm_k_img = b.norm_weight(D);
    }
    k.cross_out = b.linear(n + "cross_attn.out", D, D);
    k.ffn_up = b.linear(n + "ffn.up", F, D);
    k.ffn_down = b.linear(n + "ffn.down", D, F);
  }
  w.head_modulation = b.uniform({2, D}, -0.1f, 0.1f);
  w.proj_out = b.linear("head.proj", c.patch_t * c.patch_h * c.patch_w * c.out_channels, D);
  return out;
}

}  // namespace qdit::bench
