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
};

// Activation buffers sized once per forward and reused by every block (peak O(L * max(D, F))).
struct BlockBuffers {
  Tensor x;                      // F32 [L, D] residual stream, updated in place
  Tensor normed, q, k, v, attn;  // F32 [L, D]
  Tensor hidden;                 // F32 [L, F]
  Tensor text_k, text_v;         // F32 [text_len, D]
  Tensor image_k, image_v;       // F32 [image_tokens, D] (I2V only)
  std::array<Tensor, 6> mod;     // F32 [G, D]: this block's shift/scale/gate x2
};

BlockBuffers allocate_block_buffers(const WanConfig& config, int64_t tokens, int64_t groups, Device device);

// x <- block(x). `index` only names the layers for the observer ("blocks.<index>.self_qkv", ...).
void run_block(const WanBlockWeights& w, int64_t index, const BlockContext& ctx, BlockBuffers& b);

// Runs ops::linear after showing its input to the observer.
void observed_linear(const LinearObserver& observer, const std::string& name, const Tensor& x,
                     const QuantLinear& layer, Tensor& y, ops::Precision p);

// x[g,:] += row[0,:] for every row g of x ([G, D]); `ones` is an F32 tensor of 1.0 at least as large as x.
void add_row_to_each_row(Tensor& x, const Tensor& row, const Tensor& ones);

}  // namespace qdit::wan
