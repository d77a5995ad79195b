// Activation quantization for the int8 GEMMs (modelslim-format.md §3.1, §3.3): the values of an exact fp32
// division rounded half to even (computed by reciprocal with an exact decision near halves, quantize.cuh), so the
// GPU produces the same int8 values as the CPU reference, bit for bit.
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

#include <cuda_bf16.h>

#include "qdit/ops/cuda/activation_dtype.cuh"
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/internal.h"
#include "qdit/ops/cuda/quantize.cuh"
#include "qdit/ops/cuda/reduce.cuh"
#include "qdit/ops/cuda/row_math.cuh"  // load4
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace {

// The activations arrive as F32 or as BF16 (an attention output feeding its projection); a BF16 value widens to
// fp32 exactly, so quantizing it gives the bytes the same value stored as F32 would.
__device__ __forceinline__ float widen(float v) { return v; }
__device__ __forceinline__ float widen(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__global__ void per_token_kernel(const T* __restrict__ x, int8_t* __restrict__ xq, float* __restrict__ s,
                                 int64_t k, float qmin, float qmax) {
  __shared__ float scratch[32];
  int64_t t = blockIdx.x;
  const T* row = x + t * k;
  float m = 0.0f;
  for (int64_t i = threadIdx.x; i < k; i += blockDim.x) m = fmaxf(m, fabsf(widen(row[i])));
  m = block_max(m, scratch);
  float scale = per_token_scale(m, qmax), inv = __frcp_rn(scale);
  if (threadIdx.x == 0) s[t] = scale;
  int8_t* out = xq + t * k;
  for (int64_t i = threadIdx.x; i < k; i += blockDim.x)
    out[i] = quantize_by_reciprocal(widen(row[i]), scale, inv, qmin, qmax);
}

// The same function in one read of the row: each thread keeps up to V float4 of it in registers between the
// absmax reduction and the rounding (the plain kernel above reads the row twice). Needs K % 4 == 0.
template <int V, typename T>
__global__ void per_token_vec_kernel(const T* __restrict__ x, int8_t* __restrict__ xq, float* __restrict__ s,
                                     int64_t k, float qmin, float qmax) {
  __shared__ float scratch[32];
  const int64_t t = blockIdx.x, k4 = k / 4;
  const T* row = x + t * k;
  float4 v[V];
  float m = 0.0f;
#pragma unroll
  for (int j = 0; j < V; ++j) {
    int64_t i = threadIdx.x + int64_t(j) * blockDim.x;
    v[j] = i < k4 ? load4(row, i) : make_float4(0.f, 0.f, 0.f, 0.f);
    m = fmaxf(m, fmaxf(fmaxf(fabsf(v[j].x), fabsf(v[j].y)), fmaxf(fabsf(v[j].z), fabsf(v[j].w))));
  }
  m = block_max(m, scratch);
  float scale = per_token_scale(m, qmax), inv = __frcp_rn(scale);
  if (threadIdx.x == 0) s[t] = scale;
  char4* out = reinterpret_cast<char4*>(xq + t * k);
#pragma unroll
  for (int j = 0; j < V; ++j) {
    int64_t i = threadIdx.x + int64_t(j) * blockDim.x;
    if (i < k4)
      out[i] = make_char4(quantize_by_reciprocal(v[j].x, scale, inv, qmin, qmax),
                          quantize_by_reciprocal(v[j].y, scale, inv, qmin, qmax),
                          quantize_by_reciprocal(v[j].z, scale, inv, qmin, qmax),
                          quantize_by_reciprocal(v[j].w, scale, inv, qmin, qmax));
  }
}

// BF16 rows (attention outputs on their way into the output projections): a team of TPR threads per row, 256 / TPR
// rows per block, each thread holding V 16-byte chunks of 8 bf16 as they came (raw, 4 registers a chunk, half the
// registers of widened floats), so twice the bytes are in flight per register and a row of 1536 gets six loads a
// thread instead of the 1.5 of the one-row-per-block kernel: both were latency-bound at ~1-1.9 TB/s on an H200
// (bench/RESULTS.md, session 10). The values, scale and rounding are per_token_vec_kernel's.
__device__ __forceinline__ float bf16_lo(uint32_t w) { return __uint_as_float(w << 16); }
__device__ __forceinline__ float bf16_hi(uint32_t w) { return __uint_as_float(w & 0xFFFF0000u); }
template <int V, int TPR>
__global__ void __launch_bounds__(256) per_token_bf16_kernel(const __nv_bfloat16* __restrict__ x,
                                                             int8_t* __restrict__ xq, float* __restrict__ s,
                                                             int64_t rows, int64_t k, float qmin, float qmax) {
  static_assert(TPR >= 32 && TPR <= 256 && (TPR & (TPR - 1)) == 0, "a team is 1 to 8 whole warps");
  constexpr int kWarpsPerRow = TPR / 32;
  __shared__ float team_max[256 / 32];
  const int lane = threadIdx.x % TPR;
  const int64_t t = int64_t(blockIdx.x) * (256 / TPR) + threadIdx.x / TPR;
  const bool live = t < rows;  // (the block's last team may have no row; it still takes part in the barrier)
  const int64_t k8 = k / 8;
  const uint4* row = reinterpret_cast<const uint4*>(x + (live ? t : 0) * k);
  uint4 v[V];
  float m = 0.0f;
#pragma unroll
  for (int j = 0; j < V; ++j) {
    const int64_t i = lane + int64_t(j) * TPR;
    v[j] = live && i < k8 ? row[i] : make_uint4(0u, 0u, 0u, 0u);
  }
  auto absmax2 = [](uint32_t w) { return fmaxf(fabsf(bf16_lo(w)), fabsf(bf16_hi(w))); };
#pragma unroll
  for (int j = 0; j < V; ++j)
    m = fmaxf(m, fmaxf(fmaxf(absmax2(v[j].x), absmax2(v[j].y)), fmaxf(absmax2(v[j].z), absmax2(v[j].w))));
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  if constexpr (kWarpsPerRow > 1) {
    if (threadIdx.x % 32 == 0) team_max[threadIdx.x / 32] = m;
    __syncthreads();
    const int first = (threadIdx.x / TPR) * kWarpsPerRow;
#pragma unroll
    for (int w = 0; w < kWarpsPerRow; ++w) m = fmaxf(m, team_max[first + w]);
  }
  if (!live) return;
  const float scale = per_token_scale(m, qmax), inv = __frcp_rn(scale);
  if (lane == 0) s[t] = scale;
  uint2* out = reinterpret_cast<uint2*>(xq + t * k);
  auto q = [&](float f) { return quantize_by_reciprocal(f, scale, inv, qmin, qmax); };
#pragma unroll
  for (int j = 0; j < V; ++j) {
    const int64_t i = lane + int64_t(j) * TPR;
    if (i < k8)
      out[i] = make_uint2(
          pack_int8x4(q(bf16_lo(v[j].x)), q(bf16_hi(v[j].x)), q(bf16_lo(v[j].y)), q(bf16_hi(v[j].y))),
          pack_int8x4(q(bf16_lo(v[j].z)), q(bf16_hi(v[j].z)), q(bf16_lo(v[j].w)), q(bf16_hi(v[j].w))));
  }
}

// Launches per_token_bf16_kernel with the smallest team that holds a row in V chunks a thread, or returns false
// when none does (rows longer than 256 * V * 8 values; V = 6 keeps the kernel within its registers, 8 spilled).
template <int V>
bool launch_bf16_team(const __nv_bfloat16* x, int8_t* xq, float* s, int64_t rows, int64_t k, float qmin, float qmax) {
  const int64_t k8 = k / 8;
  auto go = [&](auto tpr) {
    constexpr int TPR = decltype(tpr)::value;
    const int64_t blocks = (rows + 256 / TPR - 1) / (256 / TPR);
    per_token_bf16_kernel<V, TPR><<<static_cast<unsigned>(blocks), 256, 0, stream()>>>(x, xq, s, rows, k, qmin, qmax);
    QDIT_CUDA_LAUNCH_CHECK("per_token_bf16_kernel");
    return true;
  };
  if (k8 <= 32 * V) return go(std::integral_constant<int, 32>{});
  if (k8 <= 64 * V) return go(std::integral_constant<int, 64>{});
  if (k8 <= 128 * V) return go(std::integral_constant<int, 128>{});
  if (k8 <= 256 * V) return go(std::integral_constant<int, 256>{});
  return false;
}

template <typename T>
__global__ void static_kernel(const T* __restrict__ x, int8_t* __restrict__ xq, int64_t n, float scale,
                              float offset) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    xq[i] = quantize_static_value(widen(x[i]), scale, offset);
}

}  // namespace

void quantize_per_token(const Tensor& x, int qmin, int qmax, Tensor& xq, Tensor& s) {
  const char* op = "quantize_per_token (CUDA)";
  require_device(x, op, "x");
  require_2d(x, op, "x");
  require_device(xq, op, "xq");
  require_dtype(xq, DType::I8, op, "xq");
  require_shape(xq, x.shape(), op, "xq");
  require_f32(s, {x.dim(0)}, op, "s");
  QDIT_CHECK(qmax > 0 && qmin < 0, "quantization range");
  if (x.dim(0) == 0) return;
  const int64_t k = x.dim(1);
  auto aligned = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; };
  if (x.dtype() == DType::BF16 && k % 8 == 0 && k > 0 && aligned(x.raw()) && aligned(xq.raw()) &&
      x.dim(0) <= int64_t(INT32_MAX) &&
      launch_bf16_team<6>(static_cast<const __nv_bfloat16*>(x.raw()), xq.data<int8_t>(), s.data<float>(), x.dim(0), k,
                          float(qmin), float(qmax)))
    return;
  with_f32_or_bf16(x, op, "x", [&](const auto* xp) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(xp)>>;
    if (k % 4 == 0 && k > 0 && aligned(x.raw()) && aligned(xq.raw())) {
      constexpr int V = 8;
      int64_t k4 = k / 4;
      int threads = k4 <= 256 * V ? 256 : (k4 <= 512 * V ? 512 : 1024);
      if (k4 <= int64_t(threads) * V) {
        per_token_vec_kernel<V, T><<<static_cast<unsigned>(x.dim(0)), threads, 0, stream()>>>(
            xp, xq.data<int8_t>(), s.data<float>(), k, float(qmin), float(qmax));
        QDIT_CUDA_LAUNCH_CHECK("per_token_vec_kernel");
        return;
      }
    }
    per_token_kernel<T><<<static_cast<unsigned>(x.dim(0)), row_threads(x.dim(1)), 0, stream()>>>(
        xp, xq.data<int8_t>(), s.data<float>(), x.dim(1), float(qmin), float(qmax));
    QDIT_CUDA_LAUNCH_CHECK("per_token_kernel");
  });
}

void quantize_static(const Tensor& x, float scale, float offset, Tensor& xq) {
  const char* op = "quantize_static (CUDA)";
  require_device(x, op, "x");
  require_device(xq, op, "xq");
  require_dtype(xq, DType::I8, op, "xq");
  require_shape(xq, x.shape(), op, "xq");
  if (!(scale > 0.0f) || !std::isfinite(scale))
    fail_internal("quantize_static (CUDA): input_scale must be positive and finite",
                  err_ctx("input_scale > 0", std::to_string(scale)));
  int64_t n = x.numel();
  if (n == 0) return;
  with_f32_or_bf16(x, op, "x", [&](const auto* xp) {
    static_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(xp, xq.data<int8_t>(), n, scale, offset);
  });
  QDIT_CUDA_LAUNCH_CHECK("static_kernel");
}

void to_linear_input(const Tensor& x, LinearInput& out) {
  switch (out.spec.form) {
    case LinearInputForm::F32:
      if (out.values.raw() != x.raw()) convert(x, out.values);  // a copy for F32 x
      return;
    case LinearInputForm::BF16:
      if (out.values.raw() != x.raw()) convert(x, out.values);  // a copy for BF16 x
      return;
    case LinearInputForm::Int8PerToken:
      return quantize_per_token(x, out.spec.qmin, out.spec.qmax, out.values, out.token_scale);
    case LinearInputForm::Int8Static: return quantize_static(x, out.spec.input_scale, out.spec.input_offset, out.values);
  }
  fail_internal("to_linear_input (CUDA): unknown form", err_ctx("F32, BF16, Int8PerToken or Int8Static", ""));
}

}  // namespace qdit::ops::cuda
