// A plainly written float64 evaluation of the Wan DiT (wan-dit.md §3) for the forward's tests. It shares no code
// with the fast path (no ops::, no forward helpers): its own patchify, sinusoid, RoPE angles, norms, naive
// softmax attention and unpatchify, and for quantized layers each scheme's exact arithmetic
// (modelslim-format.md §3): activations quantized from their fp32 value with the same fp32 scale computation,
// integer accumulation in int64, epilogue in double.
//
// With ReferenceOptions::bf16_policy it evaluates the arithmetic of ops::Precision::BF16 instead: the values the
// fast path rounds to bf16 are rounded here too (see ReferenceOptions), everything else stays float64.
#pragma once
#include <cstdint>
#include <vector>

#include "qdit/models/wan/forward/wan_model.h"

namespace qdit::wan::ref {

// Row-major matrix of doubles.
struct Mat {
  int64_t rows = 0, cols = 0;
  std::vector<double> v;
  Mat() = default;
  Mat(int64_t r, int64_t c) : rows(r), cols(c), v(static_cast<size_t>(r * c), 0.0) {}
  double& at(int64_t r, int64_t c) { return v[static_cast<size_t>(r * cols + c)]; }
  double at(int64_t r, int64_t c) const { return v[static_cast<size_t>(r * cols + c)]; }
};

struct ReferenceOptions {
  // false attends only the valid text tokens, skipping the zero-padding to text_len: the mistake the
  // padding test shows to matter.
  bool pad_text = true;
  // The bf16 precision policy as the forward implements it (ops.h, wan_model.cpp, block.cpp, ops/cpu): the
  // inputs of Float and W8A16 layers (x, and W; a W8A16 weight dequantized in fp32 first) and the q, k, v of
  // every attention are rounded to bf16 (from their fp32 value, ties to even); the time MLP (fc1, fc2, proj) and
  // the head projection stay unrounded (fp32 in the forward), as do quantized layers (exact integer arithmetic,
  // activations quantized from the unrounded value), norms, modulation, GELU/SiLU, softmax and the residual
  // stream. Products and sums stay float64.
  bool bf16_policy = false;
};

// noise_pred [Cout, T, H, W], flattened row-major.
std::vector<double> reference_forward(const WanWeights& w, const WanInputs& in, const ReferenceOptions& opt = {});

// y [T, N] = layer(x [T, K]) with the scheme's exact arithmetic (exposed for targeted checks). round_bf16: the
// bf16 policy's rounding of x and W for Float and W8A16 layers (no effect on the integer schemes).
Mat reference_linear(const QuantLinear& layer, const Mat& x, bool round_bf16 = false);

// v (first rounded to fp32, as the forward holds it) rounded to the nearest bf16 value, ties to even.
double round_to_bf16(double v);

// Relative L2 distance ||a - b|| / ||b||.
double rel_l2(const std::vector<double>& a, const std::vector<double>& b);
std::vector<double> to_doubles(const Tensor& t);

}  // namespace qdit::wan::ref
