#include "qdit/models/wan/forward/wan_model.h"

namespace qdit::wan {

namespace {

// Undefined tensors stay undefined; tensors already on `device` are shared (no copy, mmap views stay views).
Tensor to(const Tensor& t, Device device) {
  if (!t.defined() || t.device() == device) return t;
  Tensor out = ops::empty_persistent(t.shape(), t.dtype(), device);
  ops::copy(t, out);
  return out;
}

QuantLinear to(const QuantLinear& l, Device device) {
  QuantLinear out = l;
  out.weight = to(l.weight, device);
  out.bias = to(l.bias, device);
  out.weight_scale = to(l.weight_scale, device);
  out.weight_offset = to(l.weight_offset, device);
  out.deq_scale = to(l.deq_scale, device);
  out.quant_bias = to(l.quant_bias, device);
  return out;
}

}  // namespace

WanWeights weights_to_device(const WanWeights& w, Device device) {
  WanWeights out;
  out.config = w.config;
  out.patch_embed = to(w.patch_embed, device);
  out.time_fc1 = to(w.time_fc1, device);
  out.time_fc2 = to(w.time_fc2, device);
  out.time_proj = to(w.time_proj, device);
  out.text_fc1 = to(w.text_fc1, device);
  out.text_fc2 = to(w.text_fc2, device);
  out.image_norm_in_w = to(w.image_norm_in_w, device);
  out.image_norm_in_b = to(w.image_norm_in_b, device);
  out.image_fc1 = to(w.image_fc1, device);
  out.image_fc2 = to(w.image_fc2, device);
  out.image_norm_out_w = to(w.image_norm_out_w, device);
  out.image_norm_out_b = to(w.image_norm_out_b, device);
  out.head_modulation = to(w.head_modulation, device);
  out.proj_out = to(w.proj_out, device);
  out.blocks.reserve(w.blocks.size());
  for (const WanBlockWeights& b : w.blocks) {
    WanBlockWeights d;
    d.modulation = to(b.modulation, device);
    d.self_qkv = to(b.self_qkv, device);
    d.self_norm_q = to(b.self_norm_q, device);
    d.self_norm_k = to(b.self_norm_k, device);
    d.self_out = to(b.self_out, device);
    d.cross_norm_w = to(b.cross_norm_w, device);
    d.cross_norm_b = to(b.cross_norm_b, device);
    d.cross_q = to(b.cross_q, device);
    d.cross_kv = to(b.cross_kv, device);
    d.cross_norm_q = to(b.cross_norm_q, device);
    d.cross_norm_k = to(b.cross_norm_k, device);
    d.cross_kv_img = to(b.cross_kv_img, device);
    d.cross_norm_k_img = to(b.cross_norm_k_img, device);
    d.cross_out = to(b.cross_out, device);
    d.ffn_up = to(b.ffn_up, device);
    d.ffn_down = to(b.ffn_down, device);
    out.blocks.push_back(std::move(d));
  }
  return out;
}

}  // namespace qdit::wan
