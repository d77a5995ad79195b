#include "forward/tiny_model.h"

#include <cmath>
#include <stdexcept>

#include "qdit/core/half.h"
#include "util/test_util.h"

namespace qdit::wan::testing {

using qdit::test::Rng;

const char* variant_name(Variant v) {
  switch (v) {
    case Variant::T2V_21: return "wan2.1-t2v";
    case Variant::I2V_21: return "wan2.1-i2v";
    case Variant::TI2V_22: return "wan2.2-ti2v";
    case Variant::A14B_22: return "wan2.2-a14b";
  }
  return "?";
}

WanConfig tiny_config(Variant v) {
  WanConfig c;
  c.variant = "custom";
  c.text_dim = 24;
  switch (v) {
    case Variant::T2V_21:  // 16 -> 16 channels, head dim 16 (RoPE split 8/4/4)
      c.dim = 32, c.num_heads = 2, c.ffn_dim = 48, c.num_layers = 2, c.in_channels = 4, c.out_channels = 4;
      break;
    case Variant::I2V_21:  // 36 -> 16 channels and the CLIP branch
      c.dim = 32, c.num_heads = 2, c.ffn_dim = 40, c.num_layers = 2, c.in_channels = 9, c.out_channels = 4;
      c.has_image_branch = true, c.image_dim = 20, c.image_tokens = 257;
      break;
    case Variant::TI2V_22:  // 48 -> 48 channels, head dim 24 (RoPE split 8/8/8), per-token timesteps
      c.dim = 48, c.num_heads = 2, c.ffn_dim = 64, c.num_layers = 2, c.in_channels = 6, c.out_channels = 6;
      break;
    case Variant::A14B_22:  // one expert of the MoE pair; head dim 20 (RoPE split 8/6/6)
      c.dim = 60, c.num_heads = 3, c.ffn_dim = 72, c.num_layers = 3, c.in_channels = 5, c.out_channels = 5;
      break;
  }
  return c;
}

namespace {

Tensor store_as(const Tensor& f32, DType dtype) {
  if (dtype == DType::F32) return f32;
  Tensor out = Tensor::empty(f32.shape(), dtype);
  for (int64_t i = 0; i < f32.numel(); ++i) {
    const float v = f32.data<float>()[i];
    out.data<uint16_t>()[i] = dtype == DType::BF16 ? f32_to_bf16(v) : f32_to_f16(v);
  }
  return out;
}

QuantLinear float_linear(Rng& rng, int64_t n, int64_t k, DType dtype) {
  QuantLinear l;
  l.out_features = n, l.in_features = k;
  l.weight = store_as(qdit::test::random_normal_f32({n, k}, rng, 0.0, 1.0 / std::sqrt(static_cast<double>(k))),
                      dtype);
  l.bias = qdit::test::random_normal_f32({n}, rng, 0.0, 0.05);
  return l;
}

Tensor norm_weight(Rng& rng, int64_t d) { return qdit::test::random_normal_f32({d}, rng, 1.0, 0.1); }

}  // namespace

WanWeights random_float_weights(const WanConfig& c, uint64_t seed, DType dt) {
  Rng rng(seed);
  const int64_t D = c.dim;
  WanWeights w;
  w.config = c;
  w.patch_embed = float_linear(rng, D, c.in_channels * 4, dt);
  w.time_fc1 = float_linear(rng, D, c.freq_dim, dt);
  w.time_fc2 = float_linear(rng, D, D, dt);
  w.time_proj = float_linear(rng, 6 * D, D, dt);
  w.text_fc1 = float_linear(rng, D, c.text_dim, dt);
  w.text_fc2 = float_linear(rng, D, D, dt);
  if (c.has_image_branch) {
    w.image_norm_in_w = norm_weight(rng, c.image_dim);
    w.image_norm_in_b = qdit::test::random_normal_f32({c.image_dim}, rng, 0.0, 0.1);
    w.image_fc1 = float_linear(rng, c.image_dim, c.image_dim, dt);
    w.image_fc2 = float_linear(rng, D, c.image_dim, dt);
    w.image_norm_out_w = norm_weight(rng, D);
    w.image_norm_out_b = qdit::test::random_normal_f32({D}, rng, 0.0, 0.1);
  }
  w.head_modulation = qdit::test::random_normal_f32({2, D}, rng, 0.0, 0.2);
  w.proj_out = float_linear(rng, 4 * c.out_channels, D, dt);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    WanBlockWeights b;
    b.modulation = qdit::test::random_normal_f32({6, D}, rng, 0.0, 0.2);
    b.self_qkv = float_linear(rng, 3 * D, D, dt);
    b.self_norm_q = norm_weight(rng, D);
    b.self_norm_k = norm_weight(rng, D);
    b.self_out = float_linear(rng, D, D, dt);
    b.cross_norm_w = norm_weight(rng, D);
    b.cross_norm_b = qdit::test::random_normal_f32({D}, rng, 0.0, 0.1);
    b.cross_q = float_linear(rng, D, D, dt);
    b.cross_kv = float_linear(rng, 2 * D, D, dt);
    b.cross_norm_q = norm_weight(rng, D);
    b.cross_norm_k = norm_weight(rng, D);
    if (c.has_image_branch) {
      b.cross_kv_img = float_linear(rng, 2 * D, D, dt);
      b.cross_norm_k_img = norm_weight(rng, D);
    }
    b.cross_out = float_linear(rng, D, D, dt);
    b.ffn_up = float_linear(rng, c.ffn_dim, D, dt);
    b.ffn_down = float_linear(rng, D, c.ffn_dim, dt);
    w.blocks.push_back(std::move(b));
  }
  return w;
}

WanInputs random_inputs(const WanConfig& c, const InputSpec& s, uint64_t seed) {
  Rng rng(seed);
  WanInputs in;
  in.hidden_states = qdit::test::random_normal_f32({c.in_channels, s.frames, s.height, s.width}, rng);
  const int64_t h = s.height / 2, w = s.width / 2, L = s.frames * h * w;
  if (s.per_token) {
    in.timestep = Tensor::empty({L}, DType::F32);
    for (int64_t f = 0; f < s.frames; ++f)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) in.timestep.data<float>()[(f * h + y) * w + x] = s.per_token(f, y, x);
  } else {
    in.timestep = qdit::test::make_tensor_f32({1}, {s.timestep});
  }
  in.encoder_hidden_states = qdit::test::random_normal_f32({s.n_text, c.text_dim}, rng);
  if (c.has_image_branch)
    in.encoder_hidden_states_image = qdit::test::random_normal_f32({c.image_tokens, c.image_dim}, rng);
  return in;
}

void for_each_linear(WanWeights& w, const std::function<void(const std::string&, QuantLinear&)>& fn) {
  fn("patch_embed", w.patch_embed);
  fn("time.fc1", w.time_fc1);
  fn("time.fc2", w.time_fc2);
  fn("time.proj", w.time_proj);
  fn("text.fc1", w.text_fc1);
  fn("text.fc2", w.text_fc2);
  if (w.config.has_image_branch) {
    fn("image.fc1", w.image_fc1);
    fn("image.fc2", w.image_fc2);
  }
  for (size_t i = 0; i < w.blocks.size(); ++i) {
    WanBlockWeights& b = w.blocks[i];
    const std::string n = "blocks." + std::to_string(i) + ".";
    fn(n + "self_attn.qkv", b.self_qkv);
    fn(n + "self_attn.out", b.self_out);
    fn(n + "cross_attn.q", b.cross_q);
    fn(n + "cross_attn.kv", b.cross_kv);
    if (w.config.has_image_branch) fn(n + "cross_attn.kv_img", b.cross_kv_img);
    fn(n + "cross_attn.out", b.cross_out);
    fn(n + "ffn.up", b.ffn_up);
    fn(n + "ffn.down", b.ffn_down);
  }
  fn("head.proj", w.proj_out);
}

std::map<std::string, ActRange> calibrate(const WanWeights& model, const WanInputs& in) {
  std::map<std::string, ActRange> ranges;
  ForwardOptions o;
  o.observer = [&](const std::string& name, const Tensor& x) {
    ActRange& r = ranges[name];
    for (int64_t i = 0; i < x.numel(); ++i) {
      r.min = std::min(r.min, x.data<float>()[i]);
      r.max = std::max(r.max, x.data<float>()[i]);
    }
  };
  wan_forward(model, in, o);
  return ranges;
}

WanWeights quantize_model(const WanWeights& float_model, const std::function<SchemeId(const std::string&)>& choose,
                          const std::map<std::string, ActRange>& ranges) {
  WanWeights q = float_model;
  for_each_linear(q, [&](const std::string& name, QuantLinear& l) {
    if (l.weight.dtype() != DType::F32) throw std::invalid_argument("quantize_model wants F32 weights");
    const SchemeId s = choose(name);
    auto it = ranges.find(name);
    if (s == SchemeId::W8A8 && it == ranges.end()) throw std::invalid_argument("no calibration range for " + name);
    l = quantize_linear(l.weight, l.bias, s, it == ranges.end() ? ActRange{} : it->second);
  });
  return q;
}

SchemeModel build_scheme_model(Variant v, const std::function<SchemeId(const std::string&)>& choose, uint64_t seed) {
  SchemeModel m;
  const WanConfig cfg = tiny_config(v);
  m.float_model = random_float_weights(cfg, seed);
  InputSpec spec;
  if (v == Variant::TI2V_22) spec.per_token = [](int64_t f, int64_t, int64_t) { return f == 0 ? 0.0f : 500.0f; };
  m.inputs = random_inputs(cfg, spec, seed + 1);
  m.quantized = quantize_model(m.float_model, choose, calibrate(m.float_model, m.inputs));
  return m;
}

}  // namespace qdit::wan::testing
