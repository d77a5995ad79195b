// The device-neutral operations of the Wan DiT forward. Model code calls only these; each dispatches on the
// device of its tensors to ops/cpu/<op>.cpp or ops/cuda/<op>.cu. All activations are row-major [tokens, features].
//
// Numerics contract (see docs/numerics.md):
//  - Precision::FP32: fp32 everywhere, fp32 GEMMs for float layers, exact integer arithmetic for quantized ones.
//  - Precision::BF16: GEMM and attention inputs rounded to bf16 (fp32 accumulation); residual stream,
//    statistics, modulation stay fp32. Quantized layers keep their exact integer arithmetic.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "qdit/core/tensor.h"
#include "qdit/quant/linear.h"

namespace qdit::ops {

enum class Precision : uint8_t { FP32, BF16 };

// Per-token-group modulation vectors: `shift`/`scale` are F32 [G, D]; token t uses row t / (T / G).
// G = 1 for one timestep, G = frames for per-frame timesteps (Wan2.2 TI2V), G = T for per-token.
struct Modulation {
  Tensor shift;
  Tensor scale;
};

// Device-aware allocation and transfer. CPU: plain aligned memory. CUDA: from the forward's arena (no per-op
// cudaMalloc in the forward). copy() moves between any two devices; shapes and dtypes must match.
Tensor empty(Shape shape, DType dtype, Device device);
// Memory for the process's lifetime (weights): CPU as empty(); CUDA from a pool outside the forward's arena, so
// weights never pin arena chunks that activations would otherwise reuse (ops/cuda/arena.h). Never released.
Tensor empty_persistent(Shape shape, DType dtype, Device device);
void copy(const Tensor& src, Tensor& dst);
// `t` made available on `device`: t itself when it is already there, else a copy in empty() memory.
Tensor on_device(const Tensor& t, Device device);

// Brackets a stretch of work (one forward pass): device memory that ops::empty hands out for `device` while the
// scope is open is given back when it closes (CUDA: arena mark/release, so repeated forwards reuse the same bytes;
// CPU tensors own their memory, nothing to do). Tensors allocated inside must not be used after it closes.
class ScratchScope {
 public:
  explicit ScratchScope(Device device);
  ~ScratchScope();
  ScratchScope(const ScratchScope&) = delete;
  ScratchScope& operator=(const ScratchScope&) = delete;

 private:
  Device device_;
  size_t mark_[3] = {0, 0, 0};  // the backend's position (CUDA: ArenaMark), opaque here
};

// Builds the backend's prepared form of a layer now (CPU: weights packed for the int8/float GEMM kernels,
// integer corrections folded) instead of at its first ops::linear call. Prepared forms live in a process-wide
// cache keyed by the identity of the layer's tensors (data pointers, shapes, scheme, precision), which keeps
// those tensors alive; row-range views of a fused layer (wan::slice_out_features) are therefore prepared once,
// not on every call. Weights must not be modified in place after their first use. Layers on devices other than
// the CPU have no prepared form: for them this does nothing (the CUDA backend uses the [N,K] weights as stored).
void prepare_linear(const QuantLinear& w, Precision p);
// Drops every prepared form (and the references it holds to weight tensors), e.g. before loading another model.
void release_prepared_linears();

// y[T,N] = the layer applied to x[T,K] (F32), per its scheme (activation quantization included):
//   Float:        x W^T + b                (BF16 precision: x and W rounded to bf16)
//   W8A8:         (acc + quant_bias) * deq_scale, x_q = sat8(rne(x / s_x + o_x))
//   W8A8_DYNAMIC, W4A4_DYNAMIC, W4A8_DYNAMIC: acc * s_w[n] * s_t + b, s_t = max(max|x_t| / qmax, FLT_EPSILON)
//   W8A16:        x ((W_q - z) * s)^T + b  (dequantized in fp32 as ((float)W_q - z) * s; BF16 precision rounds
//                 x and that weight to bf16)
// y must be preallocated F32 [T,N] and must not alias x. On CUDA at BF16 precision x and y may also be BF16: a
// BF16 x is consumed as its (exactly widened) values; a BF16 y holds the F32 result rounded to nearest even, the
// values a bf16 consumer (attention's v) would make of it, without a conversion pass. The CPU epilogues evaluate left to right in fp32:
// (float)(acc + quant_bias) * deq_scale, and ((float)acc * s_w[n]) * s_t + b (ops/cpu/int8_gemm.h).
// The CPU int8 kernel is chosen once per process (AMX, else VNNI, else portable; QDIT_INT8_KERNEL overrides);
// all kernels give the same integers.
void linear(const Tensor& x, const QuantLinear& w, Tensor& y, Precision p);

// ---- Linear inputs in the form their GEMM consumes ---------------------------------------------------------
// A linear layer's GEMM consumes its activations in one of four forms. Producing that form inside the op that
// computes the activations (the LayerNorm before q/k/v, cross q and ffn.up; the GELU before ffn.down) saves the
// separate rounding/quantization pass that ops::linear(const Tensor&, ...) runs on every call, and lets the q,
// k and v parts of a fused layer share one quantized input.
enum class LinearInputForm : uint8_t {
  F32,           // values F32 [T,K] (CPU layers, CUDA Float/W8A16 at Precision::FP32)
  BF16,          // values BF16 [T,K], round to nearest even (CUDA Float/W8A16 at Precision::BF16)
  Int8PerToken,  // values I8 [T,K], token_scale F32 [T]: the dynamic schemes (per-token symmetric, qmin/qmax)
  Int8Static,    // values I8 [T,K]: static W8A8, sat8(rne(x / input_scale + input_offset))
};
const char* linear_input_form_name(LinearInputForm f);

// Which form, with which quantization parameters. Two layers accept the same input exactly when their specs
// compare equal (the q/k/v parts of one fused layer do; static layers with different input scales do not).
struct LinearInputSpec {
  LinearInputForm form = LinearInputForm::F32;
  int qmin = 0, qmax = 0;                        // Int8PerToken only (0 otherwise)
  float input_scale = 0.0f, input_offset = 0.0f;  // Int8Static only (0 otherwise); compared bit for bit
  bool operator==(const LinearInputSpec& o) const;
  std::string describe() const;  // e.g. "Int8PerToken[-128,127]", for error messages
};

struct LinearInput {
  LinearInputSpec spec;
  Tensor values;       // [T,K] in the spec's dtype
  Tensor token_scale;  // F32 [T] for Int8PerToken (s_t = max(max|x_t| / qmax, FLT_EPSILON)); undefined otherwise
};

// The form layer `w` consumes at precision `p` on `device`. CPU: always F32 (the CPU linear quantizes inside
// its own row loop). CUDA: Float/W8A16 -> F32 (FP32) or BF16 (BF16); W8A8 -> Int8Static with the layer's
// input_scale/input_offset; W8A8_DYNAMIC, W4A8_DYNAMIC -> Int8PerToken [-128,127]; W4A4_DYNAMIC ->
// Int8PerToken [-8,7].
LinearInputSpec linear_input_spec(const QuantLinear& w, Precision p, Device device);
// Uninitialised storage for a [tokens, features] input of `spec` (from the CUDA arena on the GPU).
LinearInput empty_linear_input(const LinearInputSpec& spec, int64_t tokens, int64_t features, Device device);

// Producers. Each computes exactly what its F32 counterpart computes, then rounds or quantizes every row while
// it is still on chip; the result is bit-identical to the F32 op followed by the separate conversion (CUDA:
// convert to bf16, quantize_per_token, quantize_static; CPU: only the F32 form exists). For the F32 form
// `out.values` may be the input tensor itself (in place).
void layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Modulation* mod, float eps,
               LinearInput& out);
// out = gelu_tanh(x) in out's form; x F32 [T,F], or BF16 on CUDA (read as its exact fp32 values).
void gelu_tanh(const Tensor& x, LinearInput& out);

// ops::linear on an input already in the layer's form (skips the activation quantization/conversion). A form
// other than linear_input_spec(w, p, device) is an Internal error naming the layer and both forms.
void linear(const LinearInput& x, const QuantLinear& w, Tensor& y, Precision p);


// out[t,:] = LN(x[t,:]) * (1 + scale) + shift, LN without affine, eps; (scale/shift from `mod`, may be undefined
// tensors for a plain LN). If weight/bias are defined (F32 [D]) the affine LN is applied instead of modulation
// (giving both is an error; bias alone is an error). `out` may be `x`.
void layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Modulation* mod, float eps,
               Tensor& out);

// In place: x[t,:] = x[t,:] / sqrt(mean(x[t,:]^2) + eps) * w, mean over the full row (all heads).
void rmsnorm(Tensor& x, const Tensor& w, float eps);
// The same into `out`: x itself, another F32 tensor, or (CUDA) BF16, the values rounded to nearest even.
void rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor& out);

// Video latents to tokens and back (the patch embedding's input, the head's output), pure data movement on the
// device the tensors live on (the 480p latent is 8 MB: on the host these passes and their page faults were tens
// of ms per forward with the GPU idle). All F32.
// patchify: latent [C, T, H, W] -> out [(T/pt) * (H/ph) * (W/pw), C * pt * ph * pw], token (fi, hi, wi) in
// row-major order, column ((c * pt + kt) * ph + kh) * pw + kw (the Conv3d weight's order); T, H, W multiples of
// the patch.
void patchify(const Tensor& latent, int64_t pt, int64_t ph, int64_t pw, Tensor& out);
// unpatchify: tokens [f * h * w, pt * ph * pw * C] with column ((kt * ph + kh) * pw + kw) * C + c (the head
// projection's order) -> out [C, f * pt, h * ph, w * pw].
void unpatchify(const Tensor& tokens, int64_t f, int64_t h, int64_t w, int64_t pt, int64_t ph, int64_t pw,
                Tensor& out);
// A per-token table of a 3-D grid from per-axis rows (RoPE's cos/sin: each pair's angle depends on one axis):
// axis_rows [f + h + w, n], out [f * h * w, n]; out[(fi, hi, wi), p] = axis_rows[r, p] with r = fi for
// p < split_h, f + hi for split_h <= p < split_w, f + h + wi from split_w on.
void expand_axis_table(const Tensor& axis_rows, int64_t f, int64_t h, int64_t w, int64_t split_h, int64_t split_w,
                       Tensor& out);

// In place rotary embedding on x viewed as [T, heads, head_dim] with interleaved pairs (2p, 2p+1).
// cos/sin are F32 [T, head_dim/2] tables (built once per grid by wan code in float64, cast to fp32).
void rope(Tensor& x, int64_t heads, const Tensor& cos, const Tensor& sin);

// rmsnorm(x, w, eps) then rope(x, heads, cos, sin), the order Wan applies to q and k, in one pass over memory:
// the CPU backend while a row is in L1, the CUDA backend in one kernel (ops/cuda/rmsnorm_rope.cu),
// bit-identical to the two CUDA ops run one after the other.
void rmsnorm_rope(Tensor& x, const Tensor& w, float eps, int64_t heads, const Tensor& cos, const Tensor& sin);
// The same into `out`: x itself, another F32 tensor, or (CUDA) BF16, the values rounded to nearest even (the
// bf16 q/k attention_io_dtype asks for, without a conversion pass).
void rmsnorm_rope(const Tensor& x, const Tensor& w, float eps, int64_t heads, const Tensor& cos, const Tensor& sin,
                  Tensor& out);

// out[Lq, H*hd] = softmax(q k^T * scale) v per head; q [Lq, H*hd], k/v [Lk, H*hd]. Never materialises Lq x Lk.
// BF16 precision rounds q, k, v to bf16 (fp32 scores, softmax and accumulation). On CUDA with head_dim 64 or 128
// the softmax probabilities P are rounded to bf16 before P.V as well (tensor-core operands; the CPU keeps P in
// fp32): that runs cuDNN 9's fused SDPA, whose output is also bf16 before it is widened to fp32, or with
// QDIT_ATTENTION=own our flash kernel. Other head dims run an fp32 kernel on the rounded inputs (P unrounded).
// The rule and the switch: ops/cuda/attention_cudnn.h. FP32 precision is fp32 throughout on every device.
// q, k, v and out are F32, or BF16 exactly where attention_io_dtype says so (each tensor either way).
//
// qk = AttentionQk::Int8 asks for the int8 q.k^T kernel instead (CUDA on Hopper, BF16 precision, head_dim 128;
// anything else is a Usage error, never a silent switch back): q quantized per token and head, k per tile of 128
// keys and head after k's mean over keys is subtracted, exact int32 products, fp16 exponentials and P.V. Its
// contract and error budget: ops/cuda/attention_int8.h (about 1.1e-2 relative on one attention with logits of
// std 1, most of it the int8 rounding of q and k; the whole-model test in
// tests/forward/attention_int8_forward_cuda_test.cpp).
// qk = AttentionQk::Int8E4m3Pv: the same kernel with P.V in e4m3 (fp8) instead of fp16, at int8's tensor-core
// rate (about 3.5x the per-attention error of Int8, ~3.8e-2 on logits of std 1; the same whole-model test).
enum class AttentionQk : uint8_t { AsPrecision, Int8, Int8E4m3Pv };
const char* attention_qk_name(AttentionQk qk);  // "as-precision", "int8", "int8-e4m3pv"
// The inverse of attention_qk_name (command lines); false for any other text.
bool attention_qk_from_name(const std::string& name, AttentionQk& qk);
// Every name attention_qk_from_name takes, for messages: "as-precision, int8 or int8-e4m3pv".
std::string attention_qk_choices();
// Whether `qk` exists on `device` at `p` for heads of `head_dim` (the int8 forms: CUDA, BF16, 128), the one rule
// ops::attention and the command lines check.
bool attention_qk_available(AttentionQk qk, Device device, Precision p, int64_t head_dim);
void attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, float scale, Tensor& out,
               Precision p, AttentionQk qk = AttentionQk::AsPrecision);
// The dtype in which ops::attention on `device` at `p` takes q/k/v and gives out without a conversion pass: BF16
// where the GPU runs cuDNN's SDPA (its operands and output are bf16 anyway, so bf16 tensors carry the same
// values), F32 everywhere else. Model code sizes its attention buffers by it.
DType attention_io_dtype(Device device, Precision p, int64_t head_dim);

// In place activations.
void gelu_tanh(Tensor& x);
void gelu_erf(Tensor& x);
void silu(Tensor& x);

// x[t,:] += y[t,:] * gate (gate: F32 [G, D] per token group as in Modulation; undefined gate means 1).
void residual_add(Tensor& x, const Tensor& y, const Tensor& gate);

}  // namespace qdit::ops
