// Operand preparation of the int8-QK attention (attention_int8.h has the numerics contract): k's mean over keys,
// q quantized per (token, head) and smoothed k per (key tile, head), v's largest magnitude per channel, v
// transposed per head into fp16 or e4m3 scaled by a power of two per channel. Memory-bound passes over the three
// activations.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <algorithm>
#include <type_traits>

#include "qdit/ops/cuda/activation_dtype.cuh"
#include "qdit/ops/cuda/attention_int8.h"
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/quantize.cuh"  // pack_int8x4
#include "qdit/ops/cuda/reduce.cuh"
#include "qdit/ops/cuda/row_math.cuh"  // load4
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace {

constexpr int kHeadDim = 128;

// The passes are memory-bound: every thread moves 16 bytes per load (8 bf16 or 4 f32 values), and issues several
// independent loads before it uses them, so enough bytes are in flight to approach the copy bandwidth.
template <class T>
constexpr int kVec = 16 / static_cast<int>(sizeof(T));
__device__ __forceinline__ void load16(const float* p, float (&v)[4]) {
  const float4 x = *reinterpret_cast<const float4*>(p);
  v[0] = x.x, v[1] = x.y, v[2] = x.z, v[3] = x.w;
}
__device__ __forceinline__ void load16(const __nv_bfloat16* p, float (&v)[8]) {
  const uint4 x = *reinterpret_cast<const uint4*>(p);
  const uint32_t w[4] = {x.x, x.y, x.z, x.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&w[i]));
    v[2 * i] = f.x, v[2 * i + 1] = f.y;
  }
}

// x / scale rounded half to even into [-127, 127] (the division exact to the contract, not a reciprocal).
__device__ __forceinline__ int quantize_int8(float x, float scale) {
  return max(-127, min(127, __float2int_rn(__fdiv_rn(x, scale))));
}

// Column sums (or largest magnitudes, kAbsMax) of x [rows, width] over one chunk of rows per blockIdx.y: 8 warps
// split the chunk's rows (warp w takes rows w, w + 8, ...: in that order, kRowsInFlight loads at a time), each lane
// 16 bytes of columns, and the warps' results are combined in a fixed order (deterministic, no atomics).
constexpr int kSumWarps = 8, kRowsInFlight = 4;
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
  constexpr int V = kVec<T>, kCols = 32 * V;
  __shared__ float sums[kSumWarps][kCols];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t col = int64_t(blockIdx.x) * kCols + V * lane;  // width is a multiple of 128: all V or none
  const int64_t r0 = int64_t(blockIdx.y) * rows_per_chunk, r1 = min(rows, r0 + rows_per_chunk);
  float s[V] = {};
  if (col < width)
    for (int64_t r = r0 + warp; r < r1; r += kRowsInFlight * kSumWarps) {
      float v[kRowsInFlight][V];
#pragma unroll
      for (int i = 0; i < kRowsInFlight; ++i)
        if (r + i * kSumWarps < r1) load16(x + (r + i * kSumWarps) * width + col, v[i]);
#pragma unroll
      for (int i = 0; i < kRowsInFlight; ++i)
        if (r + i * kSumWarps < r1)
#pragma unroll
          for (int e = 0; e < V; ++e) s[e] = accumulate<kAbsMax>(s[e], v[i][e]);
    }
#pragma unroll
  for (int e = 0; e < V; ++e) sums[warp][V * lane + e] = s[e];
  __syncthreads();
  for (int c = threadIdx.x; c < kCols; c += blockDim.x) {
    if (int64_t(blockIdx.x) * kCols + c >= width) break;
    float t = sums[0][c];
    for (int w = 1; w < kSumWarps; ++w) t = merge<kAbsMax>(t, sums[w][c]);
    partial[int64_t(blockIdx.y) * width + int64_t(blockIdx.x) * kCols + c] = t;
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

// q per (token, head): scale = max|x| / 127 over the head's 128 values, x / scale rounded half to even. A warp
// takes kQTokens tokens of 32 / (128 / V) heads (128 / V lanes a head, 16 bytes a lane), loading all of them
// before it reduces.
constexpr int kQuantWarps = 8, kQTokens = 4;
template <class T>
__global__ void __launch_bounds__(32 * kQuantWarps)
    quantize_q_kernel(const T* x, int64_t rows, int64_t heads, int8_t* q, float* scale) {
  constexpr int V = kVec<T>, kLanesPerHead = kHeadDim / V, kHeadsPerWarp = 32 / kLanesPerHead;
  const int lane = threadIdx.x % 32;
  const int64_t warp_id = int64_t(blockIdx.x) * kQuantWarps + threadIdx.x / 32;
  const int64_t head_groups = (heads + kHeadsPerWarp - 1) / kHeadsPerWarp;
  const int64_t t0 = warp_id / head_groups * kQTokens;
  if (t0 >= rows) return;  // the whole warp
  const int64_t head = warp_id % head_groups * kHeadsPerWarp + lane / kLanesPerHead;
  const bool active = head < heads;
  const int64_t width = heads * kHeadDim, col = head * kHeadDim + (lane % kLanesPerHead) * V;
  float v[kQTokens][V];
#pragma unroll
  for (int i = 0; i < kQTokens; ++i) {
    if (active && t0 + i < rows)
      load16(x + (t0 + i) * width + col, v[i]);
    else
#pragma unroll
      for (int e = 0; e < V; ++e) v[i][e] = 0.f;
  }
#pragma unroll
  for (int i = 0; i < kQTokens; ++i) {
    float amax = 0.f;
#pragma unroll
    for (int e = 0; e < V; ++e) amax = fmaxf(amax, fabsf(v[i][e]));
#pragma unroll
    for (int o = kLanesPerHead / 2; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
    const int64_t token = t0 + i;
    if (!active || token >= rows) continue;
    const float s = amax / 127.0f;
    uint32_t packed[V / 4];
#pragma unroll
    for (int w = 0; w < V / 4; ++w) {
      const float* f = &v[i][4 * w];
      packed[w] = amax > 0.f ? pack_int8x4(quantize_int8(f[0], s), quantize_int8(f[1], s), quantize_int8(f[2], s),
                                           quantize_int8(f[3], s))
                             : 0u;
    }
    int8_t* dst = q + token * width + col;
    if constexpr (V == 8)
      *reinterpret_cast<uint2*>(dst) = make_uint2(packed[0], packed[1]);
    else
      *reinterpret_cast<uint32_t*>(dst) = packed[0];
    if (lane % kLanesPerHead == 0) scale[head * rows + token] = s;
  }
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
    float4 a = make_float4(0.f, 0.f, 0.f, 0.f);
    if (token < rows) {
      a = load4(x + token * width, col / 4);
      a.x -= mu.x, a.y -= mu.y, a.z -= mu.z, a.w -= mu.w;
    }
    v[i][0] = a.x, v[i][1] = a.y, v[i][2] = a.z, v[i][3] = a.w;
    amax = fmaxf(amax, fmaxf(fmaxf(fabsf(a.x), fabsf(a.y)), fmaxf(fabsf(a.z), fabsf(a.w))));
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
    if (amax > 0.f)
      out = make_char4(quantize_int8(v[i][0], s), quantize_int8(v[i][1], s), quantize_int8(v[i][2], s),
                       quantize_int8(v[i][3], s));
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

// e4m3: the column (within its block of 32) that holds key k; the inverse of fp8_key_of_column.
constexpr int fp8_column_of_key(int k) { return (k & 16) | (((k >> 3) & 1) << 1) | (((k >> 1) & 3) << 2) | (k & 1); }
constexpr bool fp8_permutation_inverts() {
  for (int k = 0; k < 32; ++k)
    if (fp8_key_of_column(fp8_column_of_key(k)) != k) return false;
  return true;
}
static_assert(fp8_permutation_inverts(), "fp8_column_of_key inverts fp8_key_of_column");

// vt[c, t] = P(v[key(t), c] / scale[c]) (scale a power of two: the division is exact); key(t) = t for fp16, the
// fp8 permutation inside each block of 32 for e4m3 (attention_int8.h). One block per 128 keys x 64 channels, through
// shared memory: 16-byte loads of v's rows, each value converted and placed at its (permuted) column of its
// channel's row, then 16-byte stores of vt's rows. The rows' 16-byte chunks are XOR-swizzled by (channel / V) % 8
// so that the 8 lanes sharing a key, V channels apart, write different banks. Columns [rows, cols_out) get zeros
// (e4m3: the kernel's TMA reads whole tiles, and an unwritten byte could be a NaN that a zero probability does not
// cancel).
constexpr int kVtKeys = 128, kVtChannels = 64, kVtThreads = 256;
template <class T, class P>
__global__ void __launch_bounds__(kVtThreads)
    transpose_v_kernel(const T* v, const float* scale, int64_t rows, int64_t width, int64_t cols_out, int64_t ld_out,
                       P* vt) {
  constexpr bool kPermute = !std::is_same_v<P, __half>;
  constexpr int V = kVec<T>, kLanesPerKey = kVtChannels / V, kKeysPerPass = kVtThreads / kLanesPerKey;
  constexpr int kRowBytes = kVtKeys * sizeof(P), kChunks = kRowBytes / 16, kPerChunk = 16 / sizeof(P);
  __shared__ __align__(16) unsigned char tile[kVtChannels * kRowBytes];
  auto at = [](int channel, int key) {  // byte offset of (channel, column of key) in the swizzled tile
    const int col = kPermute ? (key & ~31) | fp8_column_of_key(key & 31) : key;
    const int chunk = (col / kPerChunk) ^ ((channel / V) % 8);
    return channel * kRowBytes + chunk * 16 + (col % kPerChunk) * static_cast<int>(sizeof(P));
  };
  const int64_t t0 = int64_t(blockIdx.x) * kVtKeys, c0 = int64_t(blockIdx.y) * kVtChannels;
  const int ch = (threadIdx.x % kLanesPerKey) * V;
  float sc[V];  // the scales themselves: dividing by a power of two is exact, multiplying by its inverse may not be
#pragma unroll
  for (int e = 0; e < V; ++e) sc[e] = c0 + ch + e < width ? scale[c0 + ch + e] : 1.f;
#pragma unroll
  for (int pass = 0; pass < kVtKeys / kKeysPerPass; ++pass) {
    const int key = pass * kKeysPerPass + threadIdx.x / kLanesPerKey;
    float x[V];
    if (t0 + key < rows && c0 + ch < width)
      load16(v + (t0 + key) * width + c0 + ch, x);
    else
#pragma unroll
      for (int e = 0; e < V; ++e) x[e] = 0.f;
#pragma unroll
    for (int e = 0; e < V; ++e)
      *reinterpret_cast<P*>(tile + at(ch + e, key)) = to_pv(x[e] / sc[e], static_cast<P*>(nullptr));
  }
  __syncthreads();
  constexpr int kRowsPerPass = kVtThreads / kChunks;
#pragma unroll
  for (int pass = 0; pass < kVtChannels / kRowsPerPass; ++pass) {
    const int channel = pass * kRowsPerPass + threadIdx.x / kChunks, chunk = threadIdx.x % kChunks;
    const int64_t c = c0 + channel, t = t0 + int64_t(chunk) * kPerChunk;
    if (c >= width || t >= cols_out) continue;
    const unsigned char* src = tile + channel * kRowBytes + (chunk ^ ((channel / V) % 8)) * 16;
    P* dst = vt + c * ld_out + t;
    if (t + kPerChunk <= cols_out) {
      *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(src);
    } else {  // fp16 form only (its cols_out is lk): the last partial chunk, element by element
      for (int i = 0; t + i < cols_out; ++i) dst[i] = reinterpret_cast<const P*>(src)[i];
    }
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
  with_f32_or_bf16(x, "attention (int8 QK)", arg, [&](auto* p) {
    constexpr int kCols = 32 * kVec<std::remove_pointer_t<decltype(p)>>;
    const dim3 grid(static_cast<unsigned>((width + kCols - 1) / kCols), static_cast<unsigned>(chunks));
    column_partial_kernel<kAbsMax><<<grid, 32 * kSumWarps, 0, stream()>>>(p, rows, width, per_chunk,
                                                                          partial.data<float>());
  });
  QDIT_CUDA_LAUNCH_CHECK("column_partial_kernel");
  column_finish_kernel<kAbsMax><<<static_cast<unsigned>((width + 255) / 256), 256, 0, stream()>>>(
      partial.data<float>(), chunks, width, rows, top, out.data<float>());
  QDIT_CUDA_LAUNCH_CHECK("column_finish_kernel");
  return out.data<float>();
}

void quantize_q(const Tensor& x, int64_t heads, int8_t* q, float* scale) {
  with_f32_or_bf16(x, "attention (int8 QK)", "q", [&](auto* p) {
    constexpr int kHeadsPerWarp = 32 / (kHeadDim / kVec<std::remove_pointer_t<decltype(p)>>);
    const int64_t warps = (x.dim(0) + kQTokens - 1) / kQTokens * ((heads + kHeadsPerWarp - 1) / kHeadsPerWarp);
    const unsigned blocks = static_cast<unsigned>((warps + kQuantWarps - 1) / kQuantWarps);
    quantize_q_kernel<<<blocks, 32 * kQuantWarps, 0, stream()>>>(p, x.dim(0), heads, q, scale);
  });
  QDIT_CUDA_LAUNCH_CHECK("quantize_q_kernel");
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
  quantize_q(q, heads, o.q8, o.q_scale);
  const dim3 k_grid(static_cast<unsigned>(o.lk_padded / kInt8QkKeysPerTile), static_cast<unsigned>(heads));
  with_f32_or_bf16(k, "attention (int8 QK)", "k", [&](auto* p) {
    quantize_k_per_tile_kernel<<<k_grid, 32 * kTileWarps, 0, stream()>>>(p, k_mean, o.lk, o.lk_padded, heads, o.k8,
                                                                         o.k_scale);
  });
  QDIT_CUDA_LAUNCH_CHECK("quantize_k_per_tile_kernel");
  const int64_t cols_out = fp8 ? o.lk_padded : o.lk;
  const dim3 grid(static_cast<unsigned>((cols_out + kVtKeys - 1) / kVtKeys),
                  static_cast<unsigned>((width + kVtChannels - 1) / kVtChannels));
  with_f32_or_bf16(v, "attention (int8 QK)", "v", [&](auto* p) {
    if (fp8)
      transpose_v_kernel<<<grid, kVtThreads, 0, stream()>>>(p, o.v_scale, o.lk, width, cols_out, o.lk_padded,
                                                            static_cast<__nv_fp8_storage_t*>(o.vt));
    else
      transpose_v_kernel<<<grid, kVtThreads, 0, stream()>>>(p, o.v_scale, o.lk, width, cols_out, o.lk_padded,
                                                             static_cast<__half*>(o.vt));
  });
  QDIT_CUDA_LAUNCH_CHECK("transpose_v_kernel");
  return o;
}

}  // namespace qdit::ops::cuda
