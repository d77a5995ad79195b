// Everything the Wan forward needs, in runtime (qdit) names, as produced by the loader from a load plan.
// Norm weights, modulation tables and biases are F32 CPU (or device) tensors; linears are QuantLinear.
#pragma once
#include <vector>

#include "qdit/models/wan/config.h"
#include "qdit/quant/linear.h"

namespace qdit::wan {

struct WanBlockWeights {
  Tensor modulation;       // F32 [6, D]           (blocks.N.scale_shift_table [1,6,D])
  QuantLinear self_qkv;    // N = 3D: to_q | to_k | to_v concatenated along N
  Tensor self_norm_q;      // F32 [D]
  Tensor self_norm_k;      // F32 [D]
  QuantLinear self_out;    // attn1.to_out.0
  Tensor cross_norm_w;     // F32 [D]  affine LayerNorm before cross-attention (Diffusers norm2, native norm3)
  Tensor cross_norm_b;     // F32 [D]
  QuantLinear cross_q;     // attn2.to_q
  QuantLinear cross_kv;    // N = 2D: attn2.to_k | attn2.to_v
  Tensor cross_norm_q;     // F32 [D]
  Tensor cross_norm_k;     // F32 [D]
  QuantLinear cross_kv_img;   // I2V only, N = 2D: add_k_proj | add_v_proj
  Tensor cross_norm_k_img;    // I2V only, F32 [D] (norm_added_k)
  QuantLinear cross_out;   // attn2.to_out.0
  QuantLinear ffn_up;      // ffn.net.0.proj, N = F
  QuantLinear ffn_down;    // ffn.net.2, K = F
};

struct WanWeights {
  WanConfig config;
  QuantLinear patch_embed;   // Conv3d (1,2,2) as a linear: weight [D, Cin*4] in (c, kt, kh, kw) order
  QuantLinear time_fc1;      // [D, 256]
  QuantLinear time_fc2;      // [D, D]
  QuantLinear time_proj;     // [6D, D]
  QuantLinear text_fc1;      // [D, text_dim]
  QuantLinear text_fc2;      // [D, D]
  // I2V CLIP branch (only when config.has_image_branch).
  Tensor image_norm_in_w, image_norm_in_b;    // F32 [1280], LayerNorm eps 1e-5
  QuantLinear image_fc1;                      // [1280, 1280], exact-erf GELU after it
  QuantLinear image_fc2;                      // [D, 1280]
  Tensor image_norm_out_w, image_norm_out_b;  // F32 [D], LayerNorm eps 1e-5
  Tensor head_modulation;    // F32 [2, D] (scale_shift_table [1,2,D]): row 0 shift, row 1 scale
  QuantLinear proj_out;      // [4*Cout, D]
  std::vector<WanBlockWeights> blocks;
};

}  // namespace qdit::wan
