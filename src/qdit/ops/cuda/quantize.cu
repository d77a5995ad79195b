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
