// Building blocks of the CUDA backend below the ops.h interface. Used by the ops themselves, by the GPU tests
// (to check the integer part of the quantized GEMMs exactly) and by the GPU benchmarks.
#pragma once
#include <cstdint>

#include "qdit/core/tensor.h"
#include "qdit/ops/ops.h"
#include "qdit/quant/linear.h"

namespace qdit::ops::cuda {

// Tokens per row of a per-group [G, D] table for `tokens` tokens (validates the table).
int64_t group_size_for(const Tensor& table, int64_t tokens, int64_t d, const char* op, const char* arg);

// dst = src converted element-wise between F32 / BF16 / F16 (round to nearest even), same shape, both on GPU.
void convert(const Tensor& src, Tensor& dst);
// dst (F32) = src (F32) rounded to bf16 and back: the values a bf16 kernel input carries.
void round_to_bf16(const Tensor& src, Tensor& dst);

// Per-token symmetric quantization: s[t] = max(max_k |x[t,k]| / qmax, FLT_EPSILON),
// xq[t,k] = clamp(rne(x[t,k] / s[t]), qmin, qmax). x F32 or BF16 [T,K] -> xq I8 [T,K], s F32 [T].
void quantize_per_token(const Tensor& x, int qmin, int qmax, Tensor& xq, Tensor& s);
// Static asymmetric quantization: xq = sat8(rne(x / scale + offset)); x F32 or BF16.
void quantize_static(const Tensor& x, float scale, float offset, Tensor& xq);
// x (F32 or BF16 [T,K]) into `out`'s form by the stand-alone passes above (F32, BF16: a conversion, or a copy
// unless out.values is x). The unfused reference of the producers, and what linear(const Tensor&, ...) does on every call.
void to_linear_input(const Tensor& x, LinearInput& out);

// acc[t,n] = sum_k a[t,k] * b[n,k] over int8 inputs, exact int32. The epilogue decides what is stored:
//   StoreS32: out I32 = acc                                  (tests: the integer part alone)
//   Dynamic:  out = acc * col_scale[n] * row_scale[t] + bias[n]   (bias may be null)
//   Static:   out = (acc + col_offset[n]) * col_scale[n]
// Dynamic and Static store F32, or BF16 (rounded to nearest even) when out_bf16 is set.
// (No GELU epilogue: applying ffn.up's GELU here measured slower on the H200 than the separate GELU producer, the
// tanhf work sitting in the epilogue while the tensor cores idle: bench/RESULTS.md session 6.)
enum class Int8Epilogue { StoreS32, Dynamic, Static };
struct Int8Gemm {
  const int8_t* a = nullptr;  // [M, K] activations
  const int8_t* b = nullptr;  // [N, K] weights
  int64_t m = 0, n = 0, k = 0;
  void* out = nullptr;  // [M, N]
  const float* row_scale = nullptr;
  const float* col_scale = nullptr;
  const float* bias = nullptr;
  const int32_t* col_offset = nullptr;
  bool out_bf16 = false;
};

// The int8 GEMM kernels. Which one runs is a fixed rule on the operands (int8_gemm_path), never a fallback
// after a failure: Sm90Tile256x128TmaStore for a bf16 output it accepts, else Sm90Tile256x128, else Simple.
//   Sm90*   Hopper kernels (wgmma + TMA, warp-specialised, persistent): K % 16 == 0, K > 0, a and b 16-byte
//           aligned (the TMA's global-stride and address rules; K tails inside the last 128-byte k-block are
//           zero-filled by the copy engine, which adds nothing to the exact sums);
//   Mma*    the mma.sync kernel (K % 16 == 0, a and b 16-byte aligned), kept for comparison and for the tests;
//   Simple  one thread per output, any K and alignment (K % 16 != 0, misaligned operands).
enum class Int8Kernel {
  Mma1Block,         // mma.sync, 128x128 tiles, one 8-warp block per SM
  Mma2Blocks,        // mma.sync, register-capped for two blocks per SM
  Sm90Tile128x224,   // wgmma m64n224k32: 2 consumer warpgroups x 64 rows, 5-stage pipeline
  Sm90Tile128x224Multicast,  // the same on 2-CTA clusters; each CTA loads half of the weight tile for both
  Sm90Tile256x128,   // wgmma m64n128k32 x 2 per consumer warpgroup (128 rows each), 4 stages: the default
  Sm90Tile256x128Multicast,
  Sm90PingPong2x128x128,  // ping-pong: each consumer warpgroup owns whole 128x128 tiles, one stores while the
                          // other multiplies, both fed from one ring of stages
  Sm90Tile256x128TmaStore,  // Sm90Tile256x128 whose epilogue stores through shared memory with the copy engine,
                            // overlapping the next tile's MMAs; also needs (N * output element bytes) % 16 == 0
                            // and a 16-byte aligned output
  Simple,
};
// (The multicast forms measured 15-50 % slower than Sm90Tile256x128 on an H200, bench/RESULTS.md session 4; the
// ping-pong, once fed from one ring, on par with it (session 11). They stay selectable for the benchmark's
// same-run comparison and are tested like the rest.)
constexpr int kInt8KernelCount = 9;
const char* int8_kernel_name(Int8Kernel k);
// The kernel int8_gemm runs for these operands.
Int8Kernel int8_gemm_path(const Int8Gemm& g);
void int8_gemm(const Int8Gemm& g, Int8Epilogue e);
// The same with an explicit kernel, for the benchmark's same-run comparison and the tests of each. Asking for a
// tiled kernel (Mma*, Sm90*) on operands it cannot take is an error, not a silent switch.
void int8_gemm_with(const Int8Gemm& g, Int8Epilogue e, Int8Kernel kernel);
// Whether `kernel` accepts these operands.
bool int8_kernel_accepts(Int8Kernel kernel, const Int8Gemm& g);
// Name of the kernel int8_gemm runs for these operands (e.g. "sm90_128x224").
const char* int8_gemm_kernel_name(const Int8Gemm& g);

// y[T,N] (F32) = x[T,K] w[N,K]^T (+ bias[N]) through cuBLASLt with fp32 accumulation. x and w are both F32
// (true fp32 GEMM, no TF32) or both BF16.
void gemm_lt(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y);

// ops::attention with an explicit block size for the bf16 tensor-core kernel (4 or 8 warps of 16 query rows).
void attention_variant(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, float scale, Tensor& out,
                       Precision p, int flash_warps);

// W8A16 weight dequantized for the float GEMM: out[n,k] = (W_q[n,k] - z[n]) * s[n], F32 or BF16.
void dequantize_w8a16(const QuantLinear& w, Tensor& out);

}  // namespace qdit::ops::cuda
