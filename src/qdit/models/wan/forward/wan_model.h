// The Wan 2.1 / 2.2 DiT forward (wan-dit.md §3), written once against ops:: so the CPU and CUDA backends run the
// same code. Inputs and the output live on the host; weights and activations live on options.device.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "qdit/core/tensor.h"
#include "qdit/models/wan/weights.h"
#include "qdit/ops/ops.h"

namespace qdit::wan {

// Host (CPU) tensors, all F32.
struct WanInputs {
  Tensor hidden_states;           // [Cin, T, H, W] latent (I2V: noise, mask and image latent already concatenated)
  Tensor timestep;                // [1], or [L] with one value per video token (Wan2.2 TI2V)
  Tensor encoder_hidden_states;   // [n, text_dim], n <= text_len (512); zero-padded to text_len inside
  Tensor encoder_hidden_states_image;  // [image_tokens, image_dim] = [257, 1280]; only with an image branch
};

struct ForwardOptions {
  ops::Precision precision = ops::Precision::FP32;
  Device device = Device::CPU;
  // Called with the F32 input of every linear layer just before it runs (W8A8 calibration collects per-layer
  // activation min/max). `runtime_layer` is one of the names of runtime_layer_names(); fused layers (q|k|v,
  // k|v) are reported once, since all their parts read the same input. The tensor lives on options.device.
  std::function<void(const std::string& runtime_layer, const Tensor& input)> observer;
  // Where a bf16 kernel consumes an activation, store it in bf16 (attention's q/k/v/output on the GPU,
  // BlockContext::lean_activations). Bit-identical either way; false is for the tests that prove it. Without
  // effect when an observer is set (it sees F32 activations).
  bool lean_activations = true;
  // With lean bf16 buffers, the FFN hidden (ffn.up's output, the GELU's input) in bf16 too: half the bytes of its
  // write and re-read (14B: ~20 ms of a 2.2 s forward on an H200, bench/RESULTS.md session 9) at one more bf16
  // rounding, so unlike lean_activations it changes results (within rounding; the tests that prove the lean
  // buffers bit-identical turn it off).
  bool bf16_ffn_hidden = true;
  // The q.k^T of self-attention (the 32760-token one; cross-attention keeps AsPrecision): AttentionQk::Int8 runs
  // the int8-QK kernel (ops::attention: CUDA, BF16, head_dim 128), ~10 % faster than cuDNN's bf16 SDPA on an H200
  // at ~1e-2 relative error per attention (bench/RESULTS.md session 7).
  ops::AttentionQk self_attention_qk = ops::AttentionQk::AsPrecision;
  // Called after each transformer block with (blocks done, blocks in total).
  std::function<void(int64_t done, int64_t total)> progress;
};

// Runs one DiT forward. Returns noise_pred F32 [Cout, T, H, W] on the host. The weights must already live on
// options.device (see weights_to_device). Inputs that do not fit the config are Checkpoint errors naming the
// input tensor; weights on another device are a Usage error.
Tensor wan_forward(const WanWeights& weights, const WanInputs& inputs, const ForwardOptions& options);

// Copies every tensor of `weights` to `device` with ops::empty + ops::copy. Tensors already on `device` are
// shared, not copied (CPU -> CPU returns the same views, so mmap'd weights stay mmap'd).
WanWeights weights_to_device(const WanWeights& weights, Device device);

// The runtime names of every linear layer the forward runs, in the order the forward first runs them:
// "patch_embed", "time.fc1", ..., "blocks.0.self_attn.qkv", ..., "head.proj" -- the runtime namespace of
// models/wan/rules.h, so wan_runtime_to_diffusers() maps them (fused ones with "@i" shard tags) to canonical names.
// The observer reports exactly these names.
std::vector<std::string> runtime_layer_names(const WanConfig& config);

}  // namespace qdit::wan
