// One Wan transformer block (wan-dit.md §3.5): modulated self-attention with q/k RMSNorm and 3D RoPE,
// un-modulated cross-attention to the 512 text tokens (plus the 257 CLIP tokens for Wan2.1 I2V), modulated
// GELU-tanh FFN; fp32 residual stream. Exposed on its own so benchmarks can time exactly one block.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include "qdit/core/tensor.h"
#include "qdit/models/wan/weights.h"
#include "qdit/ops/ops.h"

namespace qdit::wan {

using LinearObserver = std::function<void(const std::string& runtime_layer, const Tensor& input)>;

// What every block of one forward shares; all tensors live on the forward's device.
struct BlockContext {
  const WanConfig* config = nullptr;
  ops::Precision precision = ops::Precision::FP32;
  Tensor rope_cos, rope_sin;          // F32 [L, head_dim/2]
  Tensor text;                        // F32 [text_len, D]: the text MLP output, all 512 rows attended
  Tensor image;                       // F32 [image_tokens, D] (I2V) or undefined
  std::array<Tensor, 6> time_chunks;  // e0 split in its 6 chunks, each F32 [G, D] (G timestep groups)
  Tensor ones;                        // F32 [G, D] of 1.0 (see add_row_to_each_row in block.cpp)
  LinearObserver observer;            // may be empty
  // Store attention's activations in the dtype of the kernel that consumes them (ops::attention_io_dtype: bf16
  // q/k/v and output for cuDNN's SDPA). Bit-identical to F32 buffers with separate conversion passes (false: the
  // tests compare the two; ignored with an observer, which sees F32 activations).
  bool lean_activations = true;
  bool bf16_ffn_hidden = true;  // ForwardOptions::bf16_ffn_hidden (taken where attention's buffers are bf16)
  ops::AttentionQk self_attention_qk = ops::AttentionQk::AsPrecision;  // ForwardOptions::self_attention_qk
};

// Activation buffers sized once per forward and reused by every block (peak O(L * D)); the FFN hidden [L, F]
// lives only while the FFN runs (run_block's own scratch). Attention's q, k, v and output are in `io` (the
// io_dtype of allocate_block_buffers: the dtype ops::attention takes without conversions, F32 or BF16); where io
// is F32, q_in/k_in are q/k themselves (RMSNorm in place). I2V models keep `attn` F32: their two cross-attention
// outputs are summed in fp32.
struct BlockBuffers {
  Tensor x;                      // F32 [L, D] residual stream, updated in place
  Tensor normed, q, k;           // F32 [L, D]: LayerNorm output; q/k projections; projection outputs
  Tensor q_in, k_in, v, attn;    // io [L, D]: attention's operands and output (attn F32 with an image branch)
  Tensor text_k, text_k_in, text_v;     // [text_len, D]: F32 k projection, io k and v
  Tensor image_k, image_k_in, image_v;  // [image_tokens, D] likewise (I2V only)
  std::array<Tensor, 6> mod;     // F32 [G, D]: this block's shift/scale/gate x2
};

// io_dtype: ops::attention_io_dtype(device, precision, head_dim) when lean activations are wanted, else F32.
BlockBuffers allocate_block_buffers(const WanConfig& config, int64_t tokens, int64_t groups, Device device,
                                    DType io_dtype);

// x <- block(x). `index` only names the layers for the observer ("blocks.<index>.self_qkv", ...).
void run_block(const WanBlockWeights& w, int64_t index, const BlockContext& ctx, BlockBuffers& b);

// Runs ops::linear after showing its input to the observer.
void observed_linear(const LinearObserver& observer, const std::string& name, const Tensor& x,
                     const QuantLinear& layer, Tensor& y, ops::Precision p);

// x[g,:] += row[0,:] for every row g of x ([G, D]); `ones` is an F32 tensor of 1.0 at least as large as x.
void add_row_to_each_row(Tensor& x, const Tensor& row, const Tensor& ones);

}  // namespace qdit::wan
