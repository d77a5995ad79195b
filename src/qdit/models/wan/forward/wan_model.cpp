#include "qdit/models/wan/forward/wan_model.h"

#include "qdit/core/error.h"
#include "qdit/models/wan/forward/block.h"
#include "qdit/models/wan/forward/input_prep.h"
#include "qdit/models/wan/forward/linear_slice.h"
#include "qdit/models/wan/forward/tables.h"
#include "qdit/models/wan/forward/weights_check.h"

namespace qdit::wan {

namespace {

// LayerNorm eps of the Wan2.1 I2V CLIP projection (torch default), unlike the DiT's 1e-6.
constexpr float kImageNormEps = 1e-5f;

Tensor f32(Shape shape, Device device) { return ops::empty(std::move(shape), DType::F32, device); }

Tensor host_ones(int64_t rows, int64_t cols) {
  Tensor t = Tensor::empty({rows, cols}, DType::F32);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = 1.0f;
  return t;
}

// Text MLP on the zero-padded prompt: Linear -> GELU(tanh) -> Linear, [text_len, D].
Tensor embed_text(const WanWeights& w, const WanInputs& in, const ForwardOptions& o) {
  const WanConfig& c = w.config;
  Tensor padded = ops::on_device(pad_text(in.encoder_hidden_states, c.text_len), o.device);
  Tensor hidden = f32({c.text_len, c.dim}, o.device);
  observed_linear(o.observer, "text.fc1", padded, w.text_fc1, hidden, o.precision);
  ops::gelu_tanh(hidden);
  Tensor text = f32({c.text_len, c.dim}, o.device);
  observed_linear(o.observer, "text.fc2", hidden, w.text_fc2, text, o.precision);
  return text;
}

// Wan2.1 I2V CLIP projection: LN -> Linear -> exact GELU -> Linear -> LN (affine, eps 1e-5), [257, D].
Tensor embed_image(const WanWeights& w, const WanInputs& in, const ForwardOptions& o) {
  const WanConfig& c = w.config;
  Tensor clip = ops::on_device(in.encoder_hidden_states_image, o.device);
  Tensor normed = f32({c.image_tokens, c.image_dim}, o.device);
  ops::layernorm(clip, w.image_norm_in_w, w.image_norm_in_b, nullptr, kImageNormEps, normed);
  Tensor hidden = f32({c.image_tokens, c.image_dim}, o.device);
  observed_linear(o.observer, "image.fc1", normed, w.image_fc1, hidden, o.precision);
  ops::gelu_erf(hidden);
  Tensor projected = f32({c.image_tokens, c.dim}, o.device);
  observed_linear(o.observer, "image.fc2", hidden, w.image_fc2, projected, o.precision);
  Tensor image = f32({c.image_tokens, c.dim}, o.device);
  ops::layernorm(projected, w.image_norm_out_w, w.image_norm_out_b, nullptr, kImageNormEps, image);
  return image;
}

}  // namespace

std::vector<std::string> runtime_layer_names(const WanConfig& c) {
  std::vector<std::string> names = {"patch_embed", "time.fc1", "time.fc2", "time.proj", "text.fc1", "text.fc2"};
  if (c.has_image_branch) names.insert(names.end(), {"image.fc1", "image.fc2"});
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    for (const char* part : {"self_attn.qkv", "self_attn.out", "cross_attn.q", "cross_attn.kv"})
      names.push_back(b + part);
    if (c.has_image_branch) names.push_back(b + "cross_attn.kv_img");
    for (const char* part : {"cross_attn.out", "ffn.up", "ffn.down"}) names.push_back(b + part);
  }
  names.push_back("head.proj");
  return names;
}

Tensor wan_forward(const WanWeights& w, const WanInputs& in, const ForwardOptions& o) {
  const WanConfig& c = w.config;
  check_weights(w, o.device);
  const VideoGrid grid = check_inputs(c, in);
  const TimestepGroups groups = group_timesteps(in.timestep, grid);
  const int64_t L = grid.tokens(), D = c.dim, G = groups.size();
  const Device dev = o.device;
  const Tensor none;
  // Every device activation of this pass is given back when it ends; the result is a host tensor.
  ops::ScratchScope scratch(dev);

  const bool lean = o.lean_activations && !o.observer;
  BlockBuffers buf = allocate_block_buffers(
      c, L, G, dev, lean ? ops::attention_io_dtype(dev, o.precision, c.head_dim()) : DType::F32);
  {
    const Tensor latent = ops::on_device(in.hidden_states, dev);
    Tensor patches = f32({L, latent.dim(0) * c.patch_t * c.patch_h * c.patch_w}, dev);
    ops::patchify(latent, c.patch_t, c.patch_h, c.patch_w, patches);
    observed_linear(o.observer, "patch_embed", patches, w.patch_embed, buf.x, o.precision);
  }

  // Time MLP, always fp32 (the original runs it under an fp32 autocast even in bf16 mode).
  BlockContext ctx;
  ctx.config = &c;
  ctx.precision = o.precision;
  ctx.observer = o.observer;
  ctx.lean_activations = lean;
  ctx.self_attention_qk = o.self_attention_qk;
  ctx.bf16_ffn_hidden = o.bf16_ffn_hidden;
  ctx.ones = ops::on_device(host_ones(G, D), dev);
  Tensor e = f32({G, D}, dev);
  {
    Tensor sinusoid = ops::on_device(timestep_sinusoid(groups.values, c.freq_dim), dev);
    Tensor hidden = f32({G, D}, dev);
    observed_linear(o.observer, "time.fc1", sinusoid, w.time_fc1, hidden, ops::Precision::FP32);
    ops::silu(hidden);
    observed_linear(o.observer, "time.fc2", hidden, w.time_fc2, e, ops::Precision::FP32);
    Tensor silu_e = f32({G, D}, dev);
    ops::copy(e, silu_e);
    ops::silu(silu_e);
    // e0 = time_proj(SiLU(e)) viewed [6, D]: computing it chunk by chunk over row ranges of the weight gives each
    // chunk as its own contiguous [G, D] tensor.
    if (o.observer) o.observer("time.proj", silu_e);
    for (int k = 0; k < 6; ++k) {
      ctx.time_chunks[k] = f32({G, D}, dev);
      ops::linear(silu_e, slice_out_features(w.time_proj, k * D, D), ctx.time_chunks[k], ops::Precision::FP32);
    }
  }

  ctx.text = embed_text(w, in, o);
  if (c.has_image_branch) ctx.image = embed_image(w, in, o);
  {
    RopeTables rope = rope_tables(grid, c.head_dim(), dev);
    ctx.rope_cos = rope.cos;
    ctx.rope_sin = rope.sin;
  }

  const int64_t n_blocks = static_cast<int64_t>(w.blocks.size());
  for (int64_t i = 0; i < n_blocks; ++i) {
    run_block(w.blocks[i], i, ctx, buf);
    if (o.progress) o.progress(i + 1, n_blocks);
  }

  // Head: modulated with e (not e0), row 0 shift, row 1 scale; LayerNorm and projection in fp32.
  Tensor shift = f32({G, D}, dev), scale = f32({G, D}, dev);
  ops::copy(e, shift);
  ops::copy(e, scale);
  add_row_to_each_row(shift, slice_rows(w.head_modulation, 0, 1), ctx.ones);
  add_row_to_each_row(scale, slice_rows(w.head_modulation, 1, 1), ctx.ones);
  ops::Modulation head_mod{shift, scale};
  ops::layernorm(buf.x, none, none, &head_mod, c.eps, buf.normed);
  const int64_t P = c.patch_t * c.patch_h * c.patch_w * c.out_channels;
  Tensor tokens = f32({L, P}, dev);
  observed_linear(o.observer, "head.proj", buf.normed, w.proj_out, tokens, ops::Precision::FP32);
  Tensor video = f32({c.out_channels, grid.frames * c.patch_t, grid.height * c.patch_h, grid.width * c.patch_w}, dev);
  ops::unpatchify(tokens, grid.frames, grid.height, grid.width, c.patch_t, c.patch_h, c.patch_w, video);
  return ops::on_device(video, Device::CPU);
}

}  // namespace qdit::wan
