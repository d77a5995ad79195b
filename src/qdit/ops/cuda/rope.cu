// Rotary embedding, interleaved pairs (2p, 2p+1), in place on [T, heads * head_dim].
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/row_math.cuh"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace {

__global__ void rope_kernel(float* __restrict__ x, const float* __restrict__ cos_t, const float* __restrict__ sin_t,
                            int64_t heads, int64_t half, int64_t n_pairs) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n_pairs;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t p = i % half;
    int64_t t = i / (half * heads);
    float c = cos_t[t * half + p], s = sin_t[t * half + p];
    float2 v = reinterpret_cast<float2*>(x)[i];
    reinterpret_cast<float2*>(x)[i] = rope_pair(v.x, v.y, c, s);
  }
}

}  // namespace

void rope(Tensor& x, int64_t heads, const Tensor& cos, const Tensor& sin) {
  const char* op = "rope (CUDA)";
  require_device(x, op, "x");
  require_dtype(x, DType::F32, op, "x");
  require_2d(x, op, "x");
  int64_t t = x.dim(0), width = x.dim(1);
  if (heads <= 0 || width % heads != 0 || (width / heads) % 2 != 0)
    fail_internal("rope (CUDA): features do not split into heads of even size",
                  err_ctx("features divisible by heads, even head_dim", std::to_string(width) + " features, " + std::to_string(heads) + " heads"));
  int64_t half = width / heads / 2;
  require_f32(cos, {t, half}, op, "cos");
  require_f32(sin, {t, half}, op, "sin");
  int64_t n_pairs = t * heads * half;
  if (n_pairs == 0) return;
  rope_kernel<<<blocks_for(n_pairs, 256), 256, 0, stream()>>>(x.data<float>(), cos.data<float>(), sin.data<float>(),
                                                              heads, half, n_pairs);
  QDIT_CUDA_LAUNCH_CHECK("rope_kernel");
}

}  // namespace qdit::ops::cuda
