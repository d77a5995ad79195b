// Operand preparation of the int8-QK attention (attention_int8.h has the numerics contract): k's mean over keys,
// q quantized per (token, head) and smoothed k per (key tile, head), v's largest magnitude per channel, v transposed per head into
// fp16 scaled by a power of two per channel. Memory-bound passes over the three activations.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <algorithm>
#include <type_traits>

#include "qdit/ops/cuda/activation_dtype.cuh"
#include "qdit/ops/cuda/attention_int8.h"
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/reduce.cuh"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace {

constexpr int kHeadDim = 128;

__device__ __forceinline__ float2 load_pair(const float* p) { return *reinterpret_cast<const float2*>(p); }
__device__ __forceinline__ float2 load_pair(const __nv_bfloat16* p) {
  return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(p));
}
__device__ __forceinline__ float load_one(const float* p) { return *p; }
__device__ __forceinline__ float load_one(const __nv_bfloat16* p) { return __bfloat162float(*p); }

// Column sums (or largest magnitudes, kAbsMax) of x [rows, width] over one chunk of rows per blockIdx.y: 8 warps
// split the chunk's rows, each lane takes a column pair, and the warps' results are combined in a fixed order
// (deterministic, no atomics).
constexpr int kSumWarps = 8, kSumCols = 64;
// Two partial results (sums, or largest magnitudes) into one; `accumulate` adds a value of x to a partial result.
template <bool kAbsMax>
__device__ __forceinline__ float merge(float a, float b) {
  return kAbsMax ? fmaxf(a, b) : a + b;
}
template <bool kAbsMax>
__device__ __forceinline__ float accumulate(float a, float x) {
  return merge<kAbsMax>(a, kAbsMax ? fabsf(x) : x);
}
template <bool kAbsMax, class T>
__global__ void __launch_bounds__(32 * kSumWarps)
    column_partial_kernel(const T* x, int64_t rows, int64_t width, int64_t rows_per_chunk, float* partial) {
  __shared__ float2 sums[kSumWarps][32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t col = int64_t(blockIdx.x) * kSumCols + 2 * lane;
  const int64_t r0 = int64_t(blockIdx.y) * rows_per_chunk, r1 = min(rows, r0 + rows_per_chunk);
  float2 s = make_float2(0.f, 0.f);
  if (col < width)
    for (int64_t r = r0 + warp; r < r1; r += kSumWarps) {
      const float2 v = load_pair(x + r * width + col);
      s.x = accumulate<kAbsMax>(s.x, v.x);
      s.y = accumulate<kAbsMax>(s.y, v.y);
    }
  sums[warp][lane] = s;
  __syncthreads();
  if (warp == 0 && col < width) {
    float2 t = sums[0][lane];
    for (int w = 1; w < kSumWarps; ++w) {
      t.x = merge<kAbsMax>(t.x, sums[w][lane].x);
      t.y = merge<kAbsMax>(t.y, sums[w][lane].y);
    }
    *reinterpret_cast<float2*>(partial + int64_t(blockIdx.y) * width + col) = t;
  }
}

// kAbsMax = false: the mean over rows. true: the power of two 2^(e - top) for the largest magnitude m * 2^e
// (m in [0.5, 1)), so that the column divided by it peaks in [2^(top-1), 2^top): top = 15 uses fp16's whole
// range, 8 e4m3's (largest 448), never past it (1 for an all-zero column).
template <bool kAbsMax>
__global__ void column_finish_kernel(const float* partial, int chunks, int64_t width, int64_t rows, int top,
                                     float* out) {
  const int64_t col = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= width) return;
  float s = 0.f;
  for (int c = 0; c < chunks; ++c) s = merge<kAbsMax>(s, partial[int64_t(c) * width + col]);
  if constexpr (kAbsMax) {
    int e = 0;
    frexpf(s, &e);
    out[col] = s > 0.f ? ldexpf(1.f, e - top) : 1.f;
  } else {
    out[col] = s / static_cast<float>(rows);
  }
}

// q: one warp per (token, head): 128 values, scale = max|x| / 127, x / scale rounded half to even.
constexpr int kQuantWarps = 8;
template <class T>
__global__ void __launch_bounds__(32 * kQuantWarps)
    quantize_per_token_head_kernel(const T* x, int64_t rows, int64_t heads, int8_t* q, float* scale) {
  const int64_t item = int64_t(blockIdx.x) * kQuantWarps + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (item >= rows * heads) return;
  const int64_t head = item / rows, token = item % rows;
  const int64_t width = heads * kHeadDim, col = head * kHeadDim + 4 * lane;
  const T* src = x + token * width + col;
  const float2 a = load_pair(src), b = load_pair(src + 2);
  const float v[4] = {a.x, a.y, b.x, b.y};
  float amax = 0.f;
  for (int i = 0; i < 4; ++i) amax = fmaxf(amax, fabsf(v[i]));
  amax = warp_max(amax);
  const float s = amax / 127.0f;
  char4 out = make_char4(0, 0, 0, 0);
  if (amax > 0.f) {
    auto quant = [&](float t) {
      return static_cast<signed char>(max(-127, min(127, __float2int_rn(__fdiv_rn(t, s)))));
    };
    out = make_char4(quant(v[0]), quant(v[1]), quant(v[2]), quant(v[3]));
  }
  *reinterpret_cast<char4*>(q + token * width + col) = out;
  if (lane == 0) scale[head * rows + token] = s;
}

// k per (key tile, head): one block of 8 warps per tile of kInt8QkKeysPerTile keys and one head, each warp 16 of
// the tile's keys with 4 channels a lane, all in registers: the smoothed values (k minus its mean), scale = their
// largest magnitude over the whole tile / 127, x / scale rounded half to even. Every key of the tile gets the
// tile's scale in `scale` (keys in [rows, padded_rows): 0).
constexpr int kTileWarps = 8, kKeysPerWarp = kInt8QkKeysPerTile / kTileWarps;
template <class T>
__global__ void __launch_bounds__(32 * kTileWarps)
    quantize_k_per_tile_kernel(const T* x, const float* mean, int64_t rows, int64_t padded_rows, int64_t heads,
                               int8_t* q, float* scale) {
  __shared__ float warp_amax[kTileWarps];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t head = blockIdx.y, first = int64_t(blockIdx.x) * kInt8QkKeysPerTile + warp * kKeysPerWarp;
  const int64_t width = heads * kHeadDim, col = head * kHeadDim + 4 * lane;
  const float4 mu = *reinterpret_cast<const float4*>(mean + col);
  float v[kKeysPerWarp][4];
  float amax = 0.f;
#pragma unroll
  for (int i = 0; i < kKeysPerWarp; ++i) {
    const int64_t token = first + i;
    float2 a = make_float2(0.f, 0.f), b = a;
    if (token < rows) {
      const T* src = x + token * width + col;
      a = load_pair(src);
      b = load_pair(src + 2);
      a.x -= mu.x, a.y -= mu.y, b.x -= mu.z, b.y -= mu.w;
    }
    v[i][0] = a.x, v[i][1] = a.y, v[i][2] = b.x, v[i][3] = b.y;
    amax = fmaxf(amax, fmaxf(fmaxf(fabsf(a.x), fabsf(a.y)), fmaxf(fabsf(b.x), fabsf(b.y))));
  }
  amax = warp_max(amax);
  if (lane == 0) warp_amax[warp] = amax;
  __syncthreads();
#pragma unroll
  for (int w = 0; w < kTileWarps; ++w) amax = fmaxf(amax, warp_amax[w]);
  const float s = amax / 127.0f;
#pragma unroll
  for (int i = 0; i < kKeysPerWarp; ++i) {
    const int64_t token = first + i;
    if (token >= rows) break;
    char4 out = make_char4(0, 0, 0, 0);
    if (amax > 0.f) {
      auto quant = [&](float t) {
        return static_cast<signed char>(max(-127, min(127, __float2int_rn(__fdiv_rn(t, s)))));
      };
      out = make_char4(quant(v[i][0]), quant(v[i][1]), quant(v[i][2]), quant(v[i][3]));
    }
    *reinterpret_cast<char4*>(q + token * width + col) = out;
  }
  if (threadIdx.x < kInt8QkKeysPerTile) {
    const int64_t token = int64_t(blockIdx.x) * kInt8QkKeysPerTile + threadIdx.x;
    if (token < padded_rows) scale[head * padded_rows + token] = token < rows ? s : 0.f;
  }
}

// The element types v^T is stored in: fp16, or e4m3 (round to nearest even, saturating; |x| < 256 here).
__device__ __forceinline__ __half to_pv(float x, __half*) { return __float2half_rn(x); }
__device__ __forceinline__ __nv_fp8_storage_t to_pv(float x, __nv_fp8_storage_t*) {
  return __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3);
}

// vt[c, t] = P(v[key(t), c] / scale[c]) (scale a power of two: the division is exact) through 32 x 32 tiles in
// shared memory (coalesced on both sides); key(t) = t for fp16, the fp8 permutation inside each block of 32 for
// e4m3 (attention_int8.h). Columns [rows, cols_out) get zeros (e4m3: the kernel's TMA reads whole tiles, and an
// unwritten byte could be a NaN that a zero probability does not cancel).
template <class T, class P>
__global__ void transpose_v_kernel(const T* v, const float* scale, int64_t rows, int64_t width, int64_t cols_out,
                                   int64_t ld_out, P* vt) {
  constexpr bool kPermute = !std::is_same_v<P, __half>;
  __shared__ float tile[32][33];
  const int64_t t0 = int64_t(blockIdx.x) * 32, c0 = int64_t(blockIdx.y) * 32;
  for (int i = threadIdx.y; i < 32; i += blockDim.y) {
    const int64_t t = t0 + i, c = c0 + threadIdx.x;
    tile[i][threadIdx.x] = (t < rows && c < width) ? load_one(v + t * width + c) : 0.f;
  }
  __syncthreads();
  const int key = kPermute ? fp8_key_of_column(threadIdx.x) : threadIdx.x;
  for (int i = threadIdx.y; i < 32; i += blockDim.y) {
    const int64_t c = c0 + i, t = t0 + threadIdx.x;
    if (c < width && t < cols_out) vt[c * ld_out + t] = to_pv(tile[key][i] / scale[c], static_cast<P*>(nullptr));
  }
}

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// Per-channel mean (kAbsMax = false) or range scale (true, column_finish_kernel's `top`) of x, into arena memory.
template <bool kAbsMax>
float* column_stat(const Tensor& x, const char* arg, int top = 0) {
  const int64_t rows = x.dim(0), width = x.dim(1);
  const int chunks = static_cast<int>(std::clamp<int64_t>((rows + 255) / 256, 1, 128));
  const int64_t per_chunk = (rows + chunks - 1) / chunks;
  Tensor partial = empty({chunks, width}, DType::F32), out = empty({width}, DType::F32);
  const dim3 grid(static_cast<unsigned>((width + kSumCols - 1) / kSumCols), static_cast<unsigned>(chunks));
  with_f32_or_bf16(x, "attention (int8 QK)", arg, [&](auto* p) {
    column_partial_kernel<kAbsMax><<<grid, 32 * kSumWarps, 0, stream()>>>(p, rows, width, per_chunk,
                                                                          partial.data<float>());
  });
  QDIT_CUDA_LAUNCH_CHECK("column_partial_kernel");
  column_finish_kernel<kAbsMax><<<static_cast<unsigned>((width + 255) / 256), 256, 0, stream()>>>(
      partial.data<float>(), chunks, width, rows, top, out.data<float>());
  QDIT_CUDA_LAUNCH_CHECK("column_finish_kernel");
  return out.data<float>();
}

void quantize_per_token_head(const Tensor& x, int64_t heads, int8_t* q, float* scale, const char* arg) {
  const int64_t items = x.dim(0) * heads;
  const unsigned blocks = static_cast<unsigned>((items + kQuantWarps - 1) / kQuantWarps);
  with_f32_or_bf16(x, "attention (int8 QK)", arg, [&](auto* p) {
    quantize_per_token_head_kernel<<<blocks, 32 * kQuantWarps, 0, stream()>>>(p, x.dim(0), heads, q, scale);
  });
  QDIT_CUDA_LAUNCH_CHECK("quantize_per_token_head_kernel");
}

}  // namespace

const char* pv_format_name(PvFormat f) { return f == PvFormat::E4M3 ? "e4m3" : "f16"; }

Int8QkOperands prepare_int8_qk_operands(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads,
                                        PvFormat pv) {
  Int8QkOperands o;
  o.pv = pv;
  o.lq = q.dim(0);
  o.lk = k.dim(0);
  o.heads = heads;
  o.lk_padded = round_up(o.lk, kInt8QkKeysPerTile);
  const int64_t width = heads * kHeadDim;
  if (q.dim(1) != width || k.dim(1) != width || v.dim(1) != width || v.dim(0) != o.lk)
    fail_internal("attention (int8 QK): operands are not [L, heads * 128]",
                  err_ctx("[L, " + std::to_string(width) + "]",
                          shape_str(q.shape()) + ", " + shape_str(k.shape()) + ", " + shape_str(v.shape())));
  o.q8 = empty({o.lq, width}, DType::I8).data<int8_t>();
  o.k8 = empty({o.lk, width}, DType::I8).data<int8_t>();
  o.q_scale = empty({heads, o.lq}, DType::F32).data<float>();
  o.k_scale = empty({heads, o.lk_padded}, DType::F32).data<float>();
  const bool fp8 = pv == PvFormat::E4M3;
  o.vt = empty({width, o.lk_padded}, fp8 ? DType::F8_E4M3 : DType::F16).raw();

  const float* k_mean = column_stat<false>(k, "k");
  o.v_scale = column_stat<true>(v, "v", fp8 ? 8 : 15);
  quantize_per_token_head(q, heads, o.q8, o.q_scale, "q");
  const dim3 k_grid(static_cast<unsigned>(o.lk_padded / kInt8QkKeysPerTile), static_cast<unsigned>(heads));
  with_f32_or_bf16(k, "attention (int8 QK)", "k", [&](auto* p) {
    quantize_k_per_tile_kernel<<<k_grid, 32 * kTileWarps, 0, stream()>>>(p, k_mean, o.lk, o.lk_padded, heads, o.k8,
                                                                         o.k_scale);
  });
  QDIT_CUDA_LAUNCH_CHECK("quantize_k_per_tile_kernel");
  const int64_t cols_out = fp8 ? o.lk_padded : o.lk;
  const dim3 grid(static_cast<unsigned>((cols_out + 31) / 32), static_cast<unsigned>(width / 32));
  with_f32_or_bf16(v, "attention (int8 QK)", "v", [&](auto* p) {
    if (fp8)
      transpose_v_kernel<<<grid, dim3(32, 8), 0, stream()>>>(p, o.v_scale, o.lk, width, cols_out, o.lk_padded,
                                                             static_cast<__nv_fp8_storage_t*>(o.vt));
    else
      transpose_v_kernel<<<grid, dim3(32, 8), 0, stream()>>>(p, o.v_scale, o.lk, width, cols_out, o.lk_padded,
                                                             static_cast<__half*>(o.vt));
  });
  QDIT_CUDA_LAUNCH_CHECK("transpose_v_kernel");
  return o;
}

}  // namespace qdit::ops::cuda
