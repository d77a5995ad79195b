#include "qdit/models/wan/forward/weights_check.h"

#include <string>

#include "qdit/core/error.h"

namespace qdit::wan {

namespace {

const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

[[noreturn]] void fail_model(const std::string& message, std::string expected, std::string found) {
  ErrorContext ctx;
  ctx.expected = std::move(expected);
  ctx.found = std::move(found);
  fail_checkpoint(message, ctx);
}

struct Checker {
  Device device;

  [[noreturn]] void fail(const std::string& layer, const std::string& what, std::string expected, std::string found,
                         const char* scheme = "") const {
    ErrorContext ctx;
    ctx.layer = layer;
    ctx.scheme = scheme;
    ctx.expected = std::move(expected);
    ctx.found = std::move(found);
    fail_checkpoint("model weights: " + what, ctx);
  }

  void tensor(const std::string& name, const Tensor& t, const Shape& shape, DType dtype = DType::F32) const {
    if (!t.defined()) fail(name, "tensor missing", shape_str(shape), "nothing");
    if (t.shape() != shape || t.dtype() != dtype)
      fail(name, "tensor has the wrong shape or dtype", std::string(dtype_name(dtype)) + " " + shape_str(shape),
           std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape()));
    if (t.device() != device)
      fail_usage("model weights of '" + name + "' live on " + device_name(t.device()) + ", the forward runs on " +
                 device_name(device) + " (copy them with weights_to_device)");
  }

  void linear(const std::string& runtime_name, const QuantLinear& l, int64_t n, int64_t k) const {
    const char* s = scheme_name(l.scheme);
    // Errors name the layer as qdit runs it and, when the loader recorded it, as the checkpoint's canonical name.
    const std::string name = l.name.empty() ? runtime_name : runtime_name + " (" + l.name + ")";
    if (l.out_features != n || l.in_features != k)
      fail(name, "linear layer has the wrong size", "N=" + std::to_string(n) + " K=" + std::to_string(k),
           "N=" + std::to_string(l.out_features) + " K=" + std::to_string(l.in_features), s);
    const std::string p = runtime_name + ".";
    if (l.scheme == SchemeId::Float) {
      const DType dt = l.weight.defined() ? l.weight.dtype() : DType::F32;
      if (dt != DType::F32 && dt != DType::BF16 && dt != DType::F16)
        fail(name, "float weight dtype", "F32, BF16 or F16", std::string(dtype_name(dt)), s);
      tensor(p + "weight", l.weight, {n, k}, dt);
    } else {
      tensor(p + "weight", l.weight, {n, k}, DType::I8);
    }
    if (l.bias.defined()) {
      if (l.scheme == SchemeId::W8A8)
        fail(name, "static W8A8 carries its bias in quant_bias", "no float bias", "a float bias", s);
      tensor(p + "bias", l.bias, {n});
    }
    switch (l.scheme) {
      case SchemeId::Float: break;
      case SchemeId::W8A8:
        tensor(p + "deq_scale", l.deq_scale, {n});
        tensor(p + "quant_bias", l.quant_bias, {n}, DType::I32);
        if (!(l.input_scale > 0.0f))
          fail(name, "input_scale must be positive", "> 0", std::to_string(l.input_scale), s);
        break;
      case SchemeId::W8A16:
        tensor(p + "weight_scale", l.weight_scale, {n});
        if (l.weight_offset.defined()) tensor(p + "weight_offset", l.weight_offset, {n});
        break;
      case SchemeId::W8A8Dynamic:
      case SchemeId::W4A4Dynamic:
      case SchemeId::W4A8Dynamic: tensor(p + "weight_scale", l.weight_scale, {n}); break;
    }
  }
};

}  // namespace

void check_weights(const WanWeights& w, Device device) {
  const WanConfig& c = w.config;
  if (c.dim <= 0 || c.num_heads <= 0 || c.dim % c.num_heads || c.head_dim() % 2 || c.num_layers < 0 ||
      c.ffn_dim <= 0 || c.in_channels <= 0 || c.out_channels <= 0 || c.freq_dim % 2 || c.text_len <= 0)
    fail_model("model config is inconsistent: dim must split into heads of even width, sizes positive",
               "dim % num_heads == 0, even head_dim",
               "dim " + std::to_string(c.dim) + ", heads " + std::to_string(c.num_heads));
  if (c.image_pos_embed)
    fail_model("FLF2V models (image position embedding) are not supported by the forward yet",
               "a model without image_embedder.pos_embed", "pos_embed over " + std::to_string(c.image_tokens) +
               " image tokens");
  if (static_cast<int64_t>(w.blocks.size()) != c.num_layers)
    fail_model("model weights: wrong number of blocks", std::to_string(c.num_layers),
               std::to_string(w.blocks.size()));
  const Checker ck{device};
  const int64_t D = c.dim, P = c.patch_t * c.patch_h * c.patch_w;
  ck.linear("patch_embed", w.patch_embed, D, c.in_channels * P);
  ck.linear("time.fc1", w.time_fc1, D, c.freq_dim);
  ck.linear("time.fc2", w.time_fc2, D, D);
  ck.linear("time.proj", w.time_proj, 6 * D, D);
  ck.linear("text.fc1", w.text_fc1, D, c.text_dim);
  ck.linear("text.fc2", w.text_fc2, D, D);
  if (c.has_image_branch) {
    ck.tensor("image.norm_in.weight", w.image_norm_in_w, {c.image_dim});
    ck.tensor("image.norm_in.bias", w.image_norm_in_b, {c.image_dim});
    ck.linear("image.fc1", w.image_fc1, c.image_dim, c.image_dim);
    ck.linear("image.fc2", w.image_fc2, D, c.image_dim);
    ck.tensor("image.norm_out.weight", w.image_norm_out_w, {D});
    ck.tensor("image.norm_out.bias", w.image_norm_out_b, {D});
  }
  ck.tensor("head.modulation", w.head_modulation, {2, D});
  ck.linear("head.proj", w.proj_out, P * c.out_channels, D);
  for (size_t i = 0; i < w.blocks.size(); ++i) {
    const WanBlockWeights& b = w.blocks[i];
    const std::string n = "blocks." + std::to_string(i) + ".";
    ck.tensor(n + "modulation", b.modulation, {6, D});
    ck.linear(n + "self_attn.qkv", b.self_qkv, 3 * D, D);
    ck.tensor(n + "self_attn.norm_q.weight", b.self_norm_q, {D});
    ck.tensor(n + "self_attn.norm_k.weight", b.self_norm_k, {D});
    ck.linear(n + "self_attn.out", b.self_out, D, D);
    ck.tensor(n + "cross_norm.weight", b.cross_norm_w, {D});
    ck.tensor(n + "cross_norm.bias", b.cross_norm_b, {D});
    ck.linear(n + "cross_attn.q", b.cross_q, D, D);
    ck.linear(n + "cross_attn.kv", b.cross_kv, 2 * D, D);
    ck.tensor(n + "cross_attn.norm_q.weight", b.cross_norm_q, {D});
    ck.tensor(n + "cross_attn.norm_k.weight", b.cross_norm_k, {D});
    if (c.has_image_branch) {
      ck.linear(n + "cross_attn.kv_img", b.cross_kv_img, 2 * D, D);
      ck.tensor(n + "cross_attn.norm_k_img.weight", b.cross_norm_k_img, {D});
    }
    ck.linear(n + "cross_attn.out", b.cross_out, D, D);
    ck.linear(n + "ffn.up", b.ffn_up, c.ffn_dim, D);
    ck.linear(n + "ffn.down", b.ffn_down, D, c.ffn_dim);
  }
}

}  // namespace qdit::wan
