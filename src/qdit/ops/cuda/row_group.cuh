// Row groups: the layout of the bandwidth-bound row kernels (LayerNorm and its producers, GELU producer,
// RMSNorm, RMSNorm+RoPE). A row is owned by a fixed number of warps (1..16, a power of two) instead of a whole
// block of up to 1024 threads, each thread holding V float4 of it in registers (elements 4 (lane + j stride)
// .. +3, stride = 32 warps). Why: with one block per row every reduction was two block-wide barriers over up to
// 32 warps while no load was in flight; small groups keep the reductions to warp shuffles plus at most one
// barrier, let many rows of an SM sit in different phases, and issue all V loads of a thread before the first
// use. Blocks hold at least 128 threads (several rows when a row has fewer than 4 warps).
//
// Rule (the same for every kernel that uses it, so paired ops stay bit-identical): a row of d4 float4 is taken
// by the smallest warp count w with ceil(d4 / 32w) <= kGroupMaxV, V = that count rounded up to even; rows wider
// than 16 * 32 * kGroupMaxV float4 (24576 floats) are not taken (the caller's older kernels handle them).
#pragma once
#include <cuda_runtime.h>

#include <cuda_bf16.h>

#include <cstdint>
#include <string>
#include <type_traits>

#include "qdit/ops/cuda/reduce.cuh"
#include "qdit/ops/cuda/row_math.cuh"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

constexpr int kGroupMaxV = 12;       // float4 a thread keeps in registers (48 floats)
constexpr int kGroupMaxWarps = 16;   // warps of one row; also the most warps of a block (block <= 512 threads)
constexpr int kGroupMinBlock = 128;  // threads of a block, at least

struct GroupShape {
  int v = 0;      // float4 per thread (2, 4, .., 12); 0: the row is not taken
  int warps = 0;  // warps per row
  int block = 0;  // threads per block
  int rows_per_block = 0;
};

inline GroupShape group_shape(int64_t d4) {
  GroupShape g;
  if (d4 <= 0) return g;
  for (int w = 1; w <= kGroupMaxWarps; w *= 2) {
    const int64_t per = (d4 + 32 * w - 1) / (32 * w);
    if (per > kGroupMaxV) continue;
    g.v = static_cast<int>((per + 1) / 2 * 2);
    g.warps = w;
    g.block = 32 * w < kGroupMinBlock ? kGroupMinBlock : 32 * w;
    g.rows_per_block = g.block / (32 * w);
    return g;
  }
  return g;
}

// The rule for rmsnorm and rmsnorm_rope (one function, so the pair cannot drift apart): rows of D % 4 == 0 floats
// with x, the weight and the output 16-byte aligned, when group_shape takes them; v == 0 otherwise.
inline GroupShape rms_group_shape(int64_t d, const void* x, const void* w, const void* out) {
  const auto misaligned = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) != 0; };
  if (d == 0 || d % 4 != 0 || misaligned(x) || misaligned(w) || misaligned(out)) return GroupShape{};
  return group_shape(d / 4);
}

inline unsigned group_blocks(int64_t tokens, const GroupShape& g) {
  return static_cast<unsigned>((tokens + g.rows_per_block - 1) / g.rows_per_block);
}

// The output of a row op that may write in place or into a copy: defined, on the GPU, x's shape, F32 or BF16,
// 4-byte aligned (pair stores).
inline void require_row_output(const Tensor& x, const Tensor& out, const char* op) {
  require_device(out, op, "out");
  require_shape(out, x.shape(), op, "out");
  if (out.dtype() != DType::F32 && out.dtype() != DType::BF16)
    fail_internal(std::string(op) + ": out must be F32 or BF16", err_ctx("F32 or BF16", std::string(dtype_name(out.dtype()))));
  if ((reinterpret_cast<uintptr_t>(out.raw()) & 3u) != 0)
    fail_internal(std::string(op) + ": out must be 4-byte aligned", err_ctx("4-byte aligned", "misaligned view"));
}

// Calls f(std::integral_constant<int, V>{}) for the shape's V (one kernel instantiation per even V).
template <class F>
void with_group_v(const GroupShape& g, F&& f) {
  switch (g.v) {
    case 2: return f(std::integral_constant<int, 2>{});
    case 4: return f(std::integral_constant<int, 4>{});
    case 6: return f(std::integral_constant<int, 6>{});
    case 8: return f(std::integral_constant<int, 8>{});
    case 10: return f(std::integral_constant<int, 10>{});
    default: return f(std::integral_constant<int, 12>{});  // group_shape gives no other value
  }
}

// This thread's place in its row group.
struct RowGroup {
  int warps;       // of the row
  int stride;      // 32 * warps: the float4 distance between a thread's consecutive slots
  int lane;        // 0 .. stride - 1
  int first_warp;  // block-local index of the row's first warp (its reduction slots)
  int64_t row;     // token row; >= tokens for the spare groups of the last block, which load and store nothing
};

__device__ __forceinline__ RowGroup row_group(int warps) {
  RowGroup g;
  g.warps = warps;
  g.stride = 32 * warps;
  const int shift = 4 + __ffs(warps);  // log2(stride); warps is a power of two
  const int in_block = static_cast<int>(threadIdx.x) >> shift;
  g.lane = static_cast<int>(threadIdx.x) & (g.stride - 1);
  g.first_warp = in_block * warps;
  g.row = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> shift) + in_block;
  return g;
}

// Sum over the row's threads; every thread of the row gets the same bits (the xor butterfly adds the same two
// values on both lanes, and the per-warp partials are added in warp order by everyone). `slots` holds one float
// per warp of the block and must not be reused by a later reduction of the same kernel: the single barrier
// does not protect a second round. The barrier is uniform: every row of a block has the same warp count, and
// spare groups run the reductions too.
// The group's combination of one value per thread: `reduce_warp` inside each warp, then `combine` over the
// group's warps in warp order (shared-memory slots, one barrier).
template <class WarpReduce, class Combine>
__device__ __forceinline__ float group_reduce(float v, const RowGroup& g, float* slots, WarpReduce reduce_warp,
                                              Combine combine) {
  v = reduce_warp(v);
  if (g.warps == 1) return v;
  if ((threadIdx.x & 31) == 0) slots[threadIdx.x >> 5] = v;
  __syncthreads();
  float t = slots[g.first_warp];
  for (int w = 1; w < g.warps; ++w) t = combine(t, slots[g.first_warp + w]);
  return t;
}
struct WarpSum {
  __device__ float operator()(float v) const { return warp_sum(v); }
};
struct WarpMax {
  __device__ float operator()(float v) const { return warp_max(v); }
};
struct AddRn {
  __device__ float operator()(float a, float b) const { return __fadd_rn(a, b); }
};
struct Max {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

__device__ __forceinline__ float group_sum(float v, const RowGroup& g, float* slots) {
  return group_reduce(v, g, slots, WarpSum{}, AddRn{});
}
__device__ __forceinline__ float group_max(float v, const RowGroup& g, float* slots) {
  return group_reduce(v, g, slots, WarpMax{}, Max{});
}

// Loads this thread's V float4 of the row (zeros past d4 or for a spare group), all before any is used. T: float,
// or __nv_bfloat16 (the values widened exactly to fp32; load4, row_math.cuh).
template <int V, class T>
__device__ __forceinline__ void load_row(const T* __restrict__ x, int64_t d, int64_t tokens, const RowGroup& g,
                                         float4 (&v)[V]) {
  const int d4 = static_cast<int>(d / 4);
  const bool live = g.row < tokens;
  const T* row = x + (live ? g.row : 0) * d;
#pragma unroll
  for (int j = 0; j < V; ++j) {
    const int i = g.lane + j * g.stride;
    v[j] = live && i < d4 ? load4(row, i) : make_float4(0.f, 0.f, 0.f, 0.f);
  }
}

// 1 / sqrt(mean(row^2) + eps) of a row held as load_row leaves it: per thread a chain of fused multiply-adds over
// its elements in slot order, then group_sum. rmsnorm and rmsnorm_rope both call this, with the same shape rule,
// so they get the same value bit for bit. Zero padding adds nothing.
template <int V>
__device__ __forceinline__ float group_rms_inverse(const float4 (&v)[V], int64_t d, float eps, const RowGroup& g,
                                                   float* slots) {
  float s = 0.0f;
#pragma unroll
  for (int j = 0; j < V; ++j)
    s = __fmaf_rn(v[j].w, v[j].w, __fmaf_rn(v[j].z, v[j].z, __fmaf_rn(v[j].y, v[j].y, __fmaf_rn(v[j].x, v[j].x, s))));
  return inv_sqrt_rn(__fdiv_rn(group_sum(s, g, slots), static_cast<float>(d)), eps);
}

// The prologue of the row-group RMSNorm kernels (rmsnorm, rmsnorm_rope): the row into registers, then its
// 1 / rms. Every read of the row happens here, before any thread of the group writes (in-place rows are safe).
template <int V>
__device__ __forceinline__ float load_row_rms_inverse(const float* x, int64_t d, int64_t tokens, const RowGroup& g,
                                                      float eps, float* slots, float4 (&v)[V]) {
  load_row<V>(x, d, tokens, g, v);
  return group_rms_inverse<V>(v, d, eps, g, slots);
}

}  // namespace qdit::ops::cuda
