// Element-wise ops: GELU (tanh and erf forms), SiLU, and the gated residual add. Accurate libdevice functions
// (tanhf, erff, expf), no fast-math intrinsics, so results stay within a few ulp of the float64 reference.
#include <algorithm>
#include <cstdint>

#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/internal.h"
#include "qdit/ops/cuda/row_math.cuh"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace {

enum class Act { GeluTanh, GeluErf, Silu };

template <Act A>
__global__ void activation_kernel(float* __restrict__ x, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float v = x[i];
    if constexpr (A == Act::GeluTanh) {
      x[i] = gelu_tanh_value(v);  // shared with the fused producer (gelu_input.cu)
    } else if constexpr (A == Act::GeluErf) {
      x[i] = 0.5f * v * (1.0f + erff(v * 0.7071067811865476f));
    } else {
      x[i] = v / (1.0f + expf(-v));
    }
  }
}

template <Act A>
void run_activation(Tensor& x, const char* op) {
  require_device(x, op, "x");
  require_dtype(x, DType::F32, op, "x");
  int64_t n = x.numel();
  if (n == 0) return;
  activation_kernel<A><<<blocks_for(n, 256), 256, 0, stream()>>>(x.data<float>(), n);
  QDIT_CUDA_LAUNCH_CHECK("activation_kernel");
}

__global__ void residual_kernel(float* __restrict__ x, const float* __restrict__ y, const float* __restrict__ gate,
                                int64_t d, int64_t n, int64_t tokens_per_group) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    if (gate) {
      int64_t t = i / d, c = i - t * d;
      // Separate rounding of the product, as the CPU reference computes it (no fused multiply-add).
      x[i] = __fadd_rn(x[i], __fmul_rn(y[i], gate[(t / tokens_per_group) * d + c]));
    } else {
      x[i] = __fadd_rn(x[i], y[i]);
    }
  }
}

// The same arithmetic over whole rows in float4s, for rows of a multiple of 4 floats on 16-byte boundaries (every
// Wan width): one row per block iteration, so the gate row is found once per row instead of by two 64-bit
// divisions per element, which held the scalar kernel to 1.9 TB/s on an H200 (bench/RESULTS.md, session 5).
__device__ __forceinline__ float4 residual4(float4 a, float4 b, const float4* g) {
  if (g) {
    const float4 w = *g;
    a.x = __fadd_rn(a.x, __fmul_rn(b.x, w.x));
    a.y = __fadd_rn(a.y, __fmul_rn(b.y, w.y));
    a.z = __fadd_rn(a.z, __fmul_rn(b.z, w.z));
    a.w = __fadd_rn(a.w, __fmul_rn(b.w, w.w));
  } else {
    a.x = __fadd_rn(a.x, b.x);
    a.y = __fadd_rn(a.y, b.y);
    a.z = __fadd_rn(a.z, b.z);
    a.w = __fadd_rn(a.w, b.w);
  }
  return a;
}

__global__ void residual_rows_kernel(float4* __restrict__ x, const float4* __restrict__ y,
                                     const float4* __restrict__ gate, int64_t rows, int64_t d4,
                                     int64_t tokens_per_group) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    float4* xr = x + r * d4;
    const float4* yr = y + r * d4;
    const float4* gr = gate ? gate + (r / tokens_per_group) * d4 : nullptr;
#pragma unroll 4
    for (int64_t c = threadIdx.x; c < d4; c += blockDim.x) xr[c] = residual4(xr[c], yr[c], gr ? gr + c : nullptr);
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

void gelu_tanh(Tensor& x) { run_activation<Act::GeluTanh>(x, "gelu_tanh (CUDA)"); }
void gelu_erf(Tensor& x) { run_activation<Act::GeluErf>(x, "gelu_erf (CUDA)"); }
void silu(Tensor& x) { run_activation<Act::Silu>(x, "silu (CUDA)"); }

void residual_add(Tensor& x, const Tensor& y, const Tensor& gate) {
  const char* op = "residual_add (CUDA)";
  require_device(x, op, "x");
  require_dtype(x, DType::F32, op, "x");
  require_2d(x, op, "x");
  require_f32(y, x.shape(), op, "y");
  int64_t t = x.dim(0), d = x.dim(1), n = x.numel();
  int64_t tpg = 1;
  const float* g = nullptr;
  if (gate.defined()) {
    tpg = group_size_for(gate, t, d, op, "gate");
    g = gate.data<float>();
  }
  if (n == 0) return;
  if (d % 4 == 0 && aligned16(x.raw()) && aligned16(y.raw()) && (!g || aligned16(g))) {
    const int64_t blocks = std::min<int64_t>(t, int64_t(device_info().multiprocessors) * 8);
    residual_rows_kernel<<<static_cast<unsigned>(blocks), 256, 0, stream()>>>(
        static_cast<float4*>(x.raw()), static_cast<const float4*>(y.raw()), reinterpret_cast<const float4*>(g), t,
        d / 4, tpg);
    QDIT_CUDA_LAUNCH_CHECK("residual_rows_kernel");
    return;
  }
  residual_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(x.data<float>(), y.data<float>(), g, d, n, tpg);
  QDIT_CUDA_LAUNCH_CHECK("residual_kernel");
}

}  // namespace qdit::ops::cuda
