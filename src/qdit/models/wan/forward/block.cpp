#include "qdit/models/wan/forward/block.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

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

// A layer fed by a producer (a LayerNorm, the GELU) and the tensor its output goes to.
struct Consumer {
  QuantLinear layer;
  Tensor* out;
};
using Producer = std::function<void(ops::LinearInput&)>;

// Runs `produce` once per distinct input form among the consumers (ops::linear_input_spec: on the GPU the
// rounded/quantized activations come straight out of the producer instead of a separate pass per linear; the
// q/k/v parts of a fused layer share one), then the consumers. A producer's F32 form is written to
// `f32_buffer`, which may also be its input (in-place GELU): that form is therefore produced last.
// With an observer set (calibration) everything stays F32, so the observer sees the F32 activations as before,
// under `observed_name`, and each linear quantizes for itself.
void produce_and_run(const BlockContext& ctx, const std::string& observed_name, const Tensor& f32_buffer,
                     const Producer& produce, const std::vector<Consumer>& consumers) {
  const ops::Precision p = ctx.precision;
  const Device device = f32_buffer.device();
  if (ctx.observer) {
    ops::LinearInput in{ops::LinearInputSpec{}, f32_buffer, Tensor()};
    produce(in);
    ctx.observer(observed_name, f32_buffer);
    for (const Consumer& c : consumers) ops::linear(f32_buffer, c.layer, *c.out, p);
    return;
  }
  ops::ScratchScope scope(device);  // the non-F32 inputs live until the consumers have run
  // (consumers' outputs are allocated by the caller, outside this scope)
  std::vector<ops::LinearInput> inputs;
  std::vector<size_t> input_of;
  for (const Consumer& c : consumers) {
    const ops::LinearInputSpec spec = ops::linear_input_spec(c.layer, p, device);
    auto same = [&](const ops::LinearInput& in) { return in.spec == spec; };
    auto it = std::find_if(inputs.begin(), inputs.end(), same);
    if (it == inputs.end()) {
      inputs.push_back(spec.form == ops::LinearInputForm::F32
                           ? ops::LinearInput{spec, f32_buffer, Tensor()}
                           : ops::empty_linear_input(spec, f32_buffer.dim(0), f32_buffer.dim(1), device));
      it = inputs.end() - 1;
    }
    input_of.push_back(static_cast<size_t>(it - inputs.begin()));
  }
  for (ops::LinearInput& in : inputs)
    if (in.spec.form != ops::LinearInputForm::F32) produce(in);
  for (ops::LinearInput& in : inputs)
    if (in.spec.form == ops::LinearInputForm::F32) produce(in);
  for (size_t i = 0; i < consumers.size(); ++i) ops::linear(inputs[input_of[i]], consumers[i].layer, *consumers[i].out, p);
}

// The q/k/v (or k/v) parts of a fused layer as consumers of one producer.
std::vector<Consumer> fused_consumers(const QuantLinear& fused, std::initializer_list<Tensor*> outs) {
  const int64_t part = fused.out_features / static_cast<int64_t>(outs.size());
  std::vector<Consumer> c;
  int64_t i = 0;
  for (Tensor* out : outs) c.push_back({slice_out_features(fused, part * i++, part), out});
  return c;
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

BlockBuffers allocate_block_buffers(const WanConfig& c, int64_t L, int64_t G, Device device, DType io_dtype) {
  BlockBuffers b;
  const int64_t D = c.dim;
  const bool io_f32 = io_dtype == DType::F32;
  auto io = [&](int64_t rows) { return ops::empty({rows, D}, io_dtype, device); };
  b.x = f32({L, D}, device);
  b.normed = f32({L, D}, device);
  b.q = f32({L, D}, device);
  b.k = f32({L, D}, device);
  b.q_in = io_f32 ? b.q : io(L);
  b.k_in = io_f32 ? b.k : io(L);
  b.v = io(L);
  b.attn = c.has_image_branch ? f32({L, D}, device) : io(L);
  b.text_k = f32({c.text_len, D}, device);
  b.text_k_in = io_f32 ? b.text_k : io(c.text_len);
  b.text_v = io(c.text_len);
  if (c.has_image_branch) {
    b.image_k = f32({c.image_tokens, D}, device);
    b.image_k_in = io_f32 ? b.image_k : io(c.image_tokens);
    b.image_v = io(c.image_tokens);
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

  // Self-attention: q/k RMSNorm over the full width, then RoPE (into attention's dtype); output gated into the
  // residual.
  ops::Modulation mod1{b.mod[kShift1], b.mod[kScale1]};
  produce_and_run(
      ctx, name + "self_attn.qkv", b.normed,
      [&](ops::LinearInput& in) { ops::layernorm(b.x, none, none, &mod1, eps, in); },
      fused_consumers(w.self_qkv, {&b.q, &b.k, &b.v}));
  ops::rmsnorm_rope(b.q, w.self_norm_q, eps, heads, ctx.rope_cos, ctx.rope_sin, b.q_in);
  ops::rmsnorm_rope(b.k, w.self_norm_k, eps, heads, ctx.rope_cos, ctx.rope_sin, b.k_in);
  ops::attention(b.q_in, b.k_in, b.v, heads, scale, b.attn, p, ctx.self_attention_qk);
  observed_linear(obs, name + "self_attn.out", b.attn, w.self_out, b.q, p);
  ops::residual_add(b.x, b.q, b.mod[kGate1]);

  // Cross-attention: affine LayerNorm, no modulation, no gate. Text (and image) k/v depend only on the prompt.
  produce_and_run(
      ctx, name + "cross_attn.q", b.normed,
      [&](ops::LinearInput& in) { ops::layernorm(b.x, w.cross_norm_w, w.cross_norm_b, nullptr, eps, in); },
      {{w.cross_q, &b.q}});
  ops::rmsnorm(b.q, w.cross_norm_q, eps, b.q_in);
  fused_parts(obs, name + "cross_attn.kv", ctx.text, w.cross_kv, {&b.text_k, &b.text_v}, p);
  ops::rmsnorm(b.text_k, w.cross_norm_k, eps, b.text_k_in);
  ops::attention(b.q_in, b.text_k_in, b.text_v, heads, scale, b.attn, p);
  if (c.has_image_branch) {
    // Same q; the image attention output is added (in fp32: attn is F32 here) before the output projection.
    fused_parts(obs, name + "cross_attn.kv_img", ctx.image, w.cross_kv_img, {&b.image_k, &b.image_v}, p);
    ops::rmsnorm(b.image_k, w.cross_norm_k_img, eps, b.image_k_in);
    ops::attention(b.q_in, b.image_k_in, b.image_v, heads, scale, b.k, p);
    ops::residual_add(b.attn, b.k, none);
  }
  observed_linear(obs, name + "cross_attn.out", b.attn, w.cross_out, b.q, p);
  ops::residual_add(b.x, b.q, none);

  // FFN: modulated LayerNorm, GELU-tanh MLP, gated residual. The hidden activations [L, F] exist only here.
  // (The GELU stays a separate producer: inside ffn.up's int8 epilogue it measured slower on the H200.) Where the
  // forward keeps attention's activations in bf16 (lean GPU buffers) and ctx.bf16_ffn_hidden, the hidden is bf16
  // too: ffn.up writes it and the GELU producer reads it at half the bytes of fp32.
  ops::ScratchScope ffn_scratch(b.x.device());
  const bool bf16_hidden = ctx.bf16_ffn_hidden && b.v.dtype() == DType::BF16;
  Tensor hidden = ops::empty({b.x.dim(0), c.ffn_dim}, bf16_hidden ? DType::BF16 : DType::F32, b.x.device());
  ops::Modulation mod2{b.mod[kShift2], b.mod[kScale2]};
  produce_and_run(
      ctx, name + "ffn.up", b.normed, [&](ops::LinearInput& in) { ops::layernorm(b.x, none, none, &mod2, eps, in); },
      {{w.ffn_up, &hidden}});
  produce_and_run(
      ctx, name + "ffn.down", hidden, [&](ops::LinearInput& in) { ops::gelu_tanh(hidden, in); }, {{w.ffn_down, &b.q}});
  ops::residual_add(b.x, b.q, b.mod[kGate2]);
}

}  // namespace qdit::wan
