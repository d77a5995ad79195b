#include "qdit/models/wan/forward/block.h"

#include <cmath>

#include "qdit/models/wan/forward/linear_slice.h"

namespace qdit::wan {

namespace {

// Block modulation chunk order (wan-dit.md §3.5, checklist 5).
enum Chunk { kShift1 = 0, kScale1, kGate1, kShift2, kScale2, kGate2 };

Tensor f32(Shape shape, Device device) { return ops::empty(std::move(shape), DType::F32, device); }

// The q/k/v (or k/v) parts of a fused layer, run as separate linears over row ranges of the fused weight.
void fused_parts(const LinearObserver& observer, const std::string& name, const Tensor& x, const QuantLinear& fused,
                 std::initializer_list<Tensor*> outs, ops::Precision p) {
  const int64_t part = fused.out_features / static_cast<int64_t>(outs.size());
  if (observer) observer(name, x);
  int64_t i = 0;
  for (Tensor* out : outs) ops::linear(x, slice_out_features(fused, part * i++, part), *out, p);
}

}  // namespace

void observed_linear(const LinearObserver& observer, const std::string& name, const Tensor& x,
                     const QuantLinear& layer, Tensor& y, ops::Precision p) {
  if (observer) observer(name, x);
  ops::linear(x, layer, y, p);
}

// ops has no broadcasting add; residual_add with a one-row gate is one: x[g,:] += ones[g,:] * row[0,:], and
// multiplying by 1.0 is exact, so this is bit-identical to a plain add.
void add_row_to_each_row(Tensor& x, const Tensor& row, const Tensor& ones) {
  Tensor unit = view_prefix(ones, x.shape());
  ops::residual_add(x, unit, row);
}

BlockBuffers allocate_block_buffers(const WanConfig& c, int64_t L, int64_t G, Device device) {
  BlockBuffers b;
  const int64_t D = c.dim;
  b.x = f32({L, D}, device);
  b.normed = f32({L, D}, device);
  b.q = f32({L, D}, device);
  b.k = f32({L, D}, device);
  b.v = f32({L, D}, device);
  b.attn = f32({L, D}, device);
  b.hidden = f32({L, c.ffn_dim}, device);
  b.text_k = f32({c.text_len, D}, device);
  b.text_v = f32({c.text_len, D}, device);
  if (c.has_image_branch) {
    b.image_k = f32({c.image_tokens, D}, device);
    b.image_v = f32({c.image_tokens, D}, device);
  }
  for (auto& m : b.mod) m = f32({G, D}, device);
  return b;
}

void run_block(const WanBlockWeights& w, int64_t index, const BlockContext& ctx, BlockBuffers& b) {
  const WanConfig& c = *ctx.config;
  const ops::Precision p = ctx.precision;
  const int64_t heads = c.num_heads;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim())));
  const float eps = c.eps;
  const std::string name = "blocks." + std::to_string(index) + ".";
  const LinearObserver& obs = ctx.observer;
  const Tensor none;

  // m = block table + e0, per timestep group, fp32.
  for (int k = 0; k < 6; ++k) {
    ops::copy(ctx.time_chunks[k], b.mod[k]);
    add_row_to_each_row(b.mod[k], slice_rows(w.modulation, k, 1), ctx.ones);
  }

  // Self-attention: q/k RMSNorm over the full width, then RoPE; output gated into the residual.
  ops::Modulation mod1{b.mod[kShift1], b.mod[kScale1]};
  ops::layernorm(b.x, none, none, &mod1, eps, b.normed);
  fused_parts(obs, name + "self_attn.qkv", b.normed, w.self_qkv, {&b.q, &b.k, &b.v}, p);
  ops::rmsnorm(b.q, w.self_norm_q, eps);
  ops::rmsnorm(b.k, w.self_norm_k, eps);
  ops::rope(b.q, heads, ctx.rope_cos, ctx.rope_sin);
  ops::rope(b.k, heads, ctx.rope_cos, ctx.rope_sin);
  ops::attention(b.q, b.k, b.v, heads, scale, b.attn, p);
  observed_linear(obs, name + "self_attn.out", b.attn, w.self_out, b.q, p);
  ops::residual_add(b.x, b.q, b.mod[kGate1]);

  // Cross-attention: affine LayerNorm, no modulation, no gate. Text (and image) k/v depend only on the prompt.
  ops::layernorm(b.x, w.cross_norm_w, w.cross_norm_b, nullptr, eps, b.normed);
  observed_linear(obs, name + "cross_attn.q", b.normed, w.cross_q, b.q, p);
  ops::rmsnorm(b.q, w.cross_norm_q, eps);
  fused_parts(obs, name + "cross_attn.kv", ctx.text, w.cross_kv, {&b.text_k, &b.text_v}, p);
  ops::rmsnorm(b.text_k, w.cross_norm_k, eps);
  ops::attention(b.q, b.text_k, b.text_v, heads, scale, b.attn, p);
  if (c.has_image_branch) {
    // Same q; the image attention output is added before the output projection.
    fused_parts(obs, name + "cross_attn.kv_img", ctx.image, w.cross_kv_img, {&b.image_k, &b.image_v}, p);
    ops::rmsnorm(b.image_k, w.cross_norm_k_img, eps);
    ops::attention(b.q, b.image_k, b.image_v, heads, scale, b.k, p);
    ops::residual_add(b.attn, b.k, none);
  }
  observed_linear(obs, name + "cross_attn.out", b.attn, w.cross_out, b.q, p);
  ops::residual_add(b.x, b.q, none);

  // FFN: modulated LayerNorm, GELU-tanh MLP, gated residual.
  ops::Modulation mod2{b.mod[kShift2], b.mod[kScale2]};
  ops::layernorm(b.x, none, none, &mod2, eps, b.normed);
  observed_linear(obs, name + "ffn.up", b.normed, w.ffn_up, b.hidden, p);
  ops::gelu_tanh(b.hidden);
  observed_linear(obs, name + "ffn.down", b.hidden, w.ffn_down, b.q, p);
  ops::residual_add(b.x, b.q, b.mod[kGate2]);
}

}  // namespace qdit::wan
