// RMSNorm (one block per token row, fp32 mean of squares over the full row) and the per-token-group table check
// shared by the row ops. LayerNorm lives in layernorm.cu, the fused RMSNorm + RoPE in rmsnorm_rope.cu.
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/internal.h"
#include "qdit/ops/cuda/reduce.cuh"
#include "qdit/ops/cuda/row_math.cuh"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace {

__global__ void rmsnorm_kernel(float* __restrict__ x, const float* __restrict__ w, int64_t d, float eps) {
  __shared__ float scratch[32];
  float* row = x + static_cast<int64_t>(blockIdx.x) * d;
  const float r = rms_inverse(row, d, eps, scratch);
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) row[i] = rmsnorm_value(row[i], r, w[i]);
}

}  // namespace

int64_t group_size_for(const Tensor& table, int64_t tokens, int64_t d, const char* op, const char* arg) {
  require_device(table, op, arg);
  require_dtype(table, DType::F32, op, arg);
  if (table.ndim() != 2 || table.dim(1) != d || table.dim(0) < 1 || tokens % table.dim(0) != 0)
    fail_internal(std::string(op) + ": per-group table '" + arg + "' does not fit the tokens",
                  err_ctx("[G, " + std::to_string(d) + "] with G dividing " + std::to_string(tokens), shape_str(table.shape())));
  return tokens / table.dim(0);
}

void rmsnorm(Tensor& x, const Tensor& w, float eps) {
  const char* op = "rmsnorm (CUDA)";
  require_device(x, op, "x");
  require_dtype(x, DType::F32, op, "x");
  require_2d(x, op, "x");
  int64_t t = x.dim(0), d = x.dim(1);
  require_f32(w, {d}, op, "w");
  if (t == 0 || d == 0) return;
  rmsnorm_kernel<<<static_cast<unsigned>(t), row_threads(d), 0, stream()>>>(x.data<float>(), w.data<float>(), d,
                                                                           eps);
  QDIT_CUDA_LAUNCH_CHECK("rmsnorm_kernel");
}

}  // namespace qdit::ops::cuda
