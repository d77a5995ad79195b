// Int8-QK attention for Hopper (AttentionKernel::Int8QkSm90; attention_cudnn.h has the kernel rule): softmax(q k^T
// * scale) v with q quantized to int8 per token and head and k per tile of 128 keys and head, the products q.k
// exact in int32 on the tensor cores (wgmma s8, twice bf16's rate), and P.V in fp16 with fp32 accumulation.
//
// The numerics contract (why it stays inside the whole-model 1e-2 budget; bench/attention_8bit_study.cpp):
//  - k is "smoothed" first: its mean over all keys (per channel) is subtracted. That shifts every score of a query
//    row by the same amount, which softmax ignores, and it removes the offset all keys share, so the int8 grid is
//    spent on what differs between keys;
//  - q is quantized symmetrically per (token, head), the smoothed k per (tile of kInt8QkKeysPerTile = 128 keys,
//    head): scale = max|x| / 127 over those 128 (q) or 128 x 128 (k) values, x / scale rounded half to even (all
//    zeros: scale 0, zeros). k's scale per tile rather than per key (SageAttention's choice) lets the kernel take
//    each row's maximum on the exact int32 scores and turn a score into its exponent argument with one fma: the
//    kernel is bound by instruction issue, and this saves ~1.75 of ~7.5 instructions per score. It costs little:
//    one attention at logits of std 1 goes from 3.64e-2 to 3.75e-2 relative L2 with e4m3 P.V, 9.1e-3 to 1.1e-2
//    with fp16 P.V (bench/attention_8bit_study.cpp, int8-qk[b]-*pv);
//  - score = (q8 . k8) * q_scale * k_scale * scale, the exponent argument (log2 units, against a running row
//    maximum) in fp32, then rounded to fp16 and exponentiated in fp16 (ex2.approx.f16x2, two per instruction);
//    P stays fp16, 3 more mantissa bits than bf16 (against the float64 evaluation of this same quantized
//    function the kernel went from 1.5e-3 with bf16 P and V to 3.3e-4; the speed did not change);
//  - v in fp16 after division by a power of two per channel that puts the channel's largest magnitude in
//    [16384, 32768) (so no value overflows and none loses precision to the range; fp16 keeps 3 more mantissa bits
//    than bf16); P.V and the row sums of P accumulated in fp32 on the tensor cores; O divided by the row sum and
//    multiplied by the channel's power of two at the end.
// P.V in fp8 instead (PvFormat::E4M3, SageAttention2's trade: e4m3 wgmma runs at int8's rate, twice fp16's, so a
// key tile costs half the tensor-core time of the fp16 form):
//  - v divided per channel by the power of two that puts its largest magnitude in [128, 256), rounded to e4m3
//    (round to nearest even; 3 mantissa bits);
//  - the running maximum moves with every larger score (no lazy slack), and P = 2^(score - max + log2(448)) in
//    fp32 (ex2.approx), rounded to e4m3: P fills e4m3's range [0, 448], so probabilities down to 2^-14.8 of the
//    row's largest stay normal numbers;
//  - each key tile's P.V and row sums go into a fresh fp32 accumulator, added to O in fp32 (Hopper's fp8 MMAs
//    keep only ~14 bits while they accumulate: accumulated straight into O, a 32760-key row came out 0.6 off in
//    relative L2 on an H200);
//  - the A fragment of an 8-bit MMA is not laid out like the D fragment of S, so instead of moving bytes between
//    registers, v^T's keys are permuted inside every block of 32: column 32b + k holds key 32b + pi(k), pi(k) =
//    (k & 16) | (k & 2) << 2 | (k >> 2 & 3) << 1 | (k & 1) (fp8_key_of_column below).
// Accuracy (one head at 32760 tokens, logits of std 1, relative L2 against float64; H200, session 10): 3.83e-2 for
// the e4m3 form against 1.17e-2 for the fp16 form; both are diluted in the whole model (the recipe's 1e-2 budget:
// 6.56e-3 and 4.80e-3 at head_dim 128, tests/forward/attention_int8_forward_cuda_test.cpp).
// The operands are prepared in arena scratch (attention_int8_prep.cu): int8 q and k with their scales, and v
// transposed per head to [head_dim, keys] in fp16 (so both MMAs read K-major tiles, the layout TMA and wgmma share
// with the int8 GEMM). head_dim must be 128 (every Wan model's).
#pragma once
#include <cuda_fp16.h>

#include <cstdint>

#include "qdit/core/tensor.h"

namespace qdit::ops::cuda {

// The format of P and v in the P.V product.
enum class PvFormat : uint8_t { F16, E4M3 };
const char* pv_format_name(PvFormat f);  // "f16", "e4m3"

// E4M3: the key (within its block of 32) whose v^T sits in column k of the block.
constexpr int fp8_key_of_column(int k) { return (k & 16) | ((k & 2) << 2) | (((k >> 2) & 3) << 1) | (k & 1); }

// Operands of the int8-QK kernel, in arena memory of the caller's scope.
struct Int8QkOperands {
  int8_t* q8 = nullptr;            // [lq, heads * 128]
  int8_t* k8 = nullptr;            // [lk, heads * 128], smoothed
  float* q_scale = nullptr;        // [heads, lq]
  float* k_scale = nullptr;        // [heads, lk_padded]: every key of a tile of 128 holds the tile's scale; zero
                                   // past lk
  void* vt = nullptr;              // [heads * 128, lk_padded] fp16 or e4m3 (pv): row h * 128 + d is channel d of
                                   // head h over keys, divided by v_scale[h * 128 + d]; e4m3: keys permuted per
                                   // 32 (fp8_key_of_column), zeros past lk
  PvFormat pv = PvFormat::F16;
  float* v_scale = nullptr;        // [heads * 128], powers of two
  int64_t lq = 0, lk = 0, lk_padded = 0, heads = 0;
};

// Keys per K/V tile of the kernel; k_scale and vt rows are padded to a multiple of it.
constexpr int kInt8QkKeysPerTile = 128;

// Quantizes q and k (F32 or BF16 [L, heads * 128]) and transposes v into arena scratch (attention_int8_prep.cu).
Int8QkOperands prepare_int8_qk_operands(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads,
                                        PvFormat pv = PvFormat::F16);

// out (F32 or BF16 [lq, heads * 128]) = the attention of the prepared operands (attention_int8_sm90.cu).
void attention_int8_qk_sm90(const Int8QkOperands& ops, float scale, Tensor& out);

// The whole operation on [L, heads * 128] q, k, v (F32 or BF16) into out: checks, scratch, preparation, kernel
// (attention.cu; ops::attention's AttentionKernel::Int8QkSm90).
void attention_int8_qk(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, float scale, Tensor& out,
                       PvFormat pv = PvFormat::F16);

}  // namespace qdit::ops::cuda
