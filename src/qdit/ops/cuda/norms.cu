// LayerNorm (plain, modulated, or affine) and RMSNorm, one block per token row, fp32 statistics (two passes:
// mean, then the mean of squared deviations, as the float64 reference does, not E[x^2]-E[x]^2).
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/reduce.cuh"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace {

// mode 0: plain LN; 1: modulated LN * (1 + scale[g]) + shift[g]; 2: affine LN * w + b (either may be null).
__global__ void layernorm_kernel(const float* __restrict__ x, float* __restrict__ out, int64_t d, float eps,
                                 int mode, const float* __restrict__ a, const float* __restrict__ b,
                                 int64_t tokens_per_group) {
  __shared__ float scratch[32];
  int64_t t = blockIdx.x;
  const float* row = x + t * d;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) s += row[i];
  float mean = block_sum(s, scratch) / static_cast<float>(d);
  float v = 0.0f;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    float c = row[i] - mean;
    v += c * c;
  }
  float var = block_sum(v, scratch) / static_cast<float>(d);
  float rstd = 1.0f / sqrtf(var + eps);
  float* o = out + t * d;
  if (mode == 1) {
    int64_t g = t / tokens_per_group;
    const float* shift = a + g * d;
    const float* scale = b + g * d;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
      float n = (row[i] - mean) * rstd;
      o[i] = n * (1.0f + scale[i]) + shift[i];
    }
  } else if (mode == 2) {
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
      float n = (row[i] - mean) * rstd;
      if (a) n = n * a[i];
      if (b) n = n + b[i];
      o[i] = n;
    }
  } else {
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) o[i] = (row[i] - mean) * rstd;
  }
}

__global__ void rmsnorm_kernel(float* __restrict__ x, const float* __restrict__ w, int64_t d, float eps) {
  __shared__ float scratch[32];
  float* row = x + static_cast<int64_t>(blockIdx.x) * d;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) s += row[i] * row[i];
  float ms = block_sum(s, scratch) / static_cast<float>(d);
  float r = 1.0f / sqrtf(ms + eps);
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) row[i] = row[i] * r * w[i];
}

// Rows t of a [G, D] per-token-group table are used by tokens t*(T/G) .. (t+1)*(T/G)-1.
int64_t tokens_per_group(const Tensor& table, int64_t tokens, int64_t d, const char* op, const char* arg) {
  require_device(table, op, arg);
  require_dtype(table, DType::F32, op, arg);
  if (table.ndim() != 2 || table.dim(1) != d || table.dim(0) < 1 || tokens % table.dim(0) != 0)
    fail_internal(std::string(op) + ": per-group table '" + arg + "' does not fit the tokens",
                  err_ctx("[G, " + std::to_string(d) + "] with G dividing " + std::to_string(tokens), shape_str(table.shape())));
  return tokens / table.dim(0);
}

}  // namespace

int64_t group_size_for(const Tensor& table, int64_t tokens, int64_t d, const char* op, const char* arg) {
  return tokens_per_group(table, tokens, d, op, arg);
}

void layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Modulation* mod, float eps,
               Tensor& out) {
  const char* op = "layernorm (CUDA)";
  require_device(x, op, "x");
  require_dtype(x, DType::F32, op, "x");
  require_2d(x, op, "x");
  int64_t t = x.dim(0), d = x.dim(1);
  require_f32(out, x.shape(), op, "out");
  int mode = 0;
  const float *a = nullptr, *b = nullptr;
  int64_t tpg = 1;
  if (weight.defined() || bias.defined()) {
    mode = 2;
    if (weight.defined()) {
      require_f32(weight, {d}, op, "weight");
      a = weight.data<float>();
    }
    if (bias.defined()) {
      require_f32(bias, {d}, op, "bias");
      b = bias.data<float>();
    }
  } else if (mod && (mod->shift.defined() || mod->scale.defined())) {
    if (!mod->shift.defined() || !mod->scale.defined())
      fail_internal("layernorm (CUDA): modulation needs both shift and scale",
                    err_ctx("shift and scale defined", "only one of them"));
    mode = 1;
    tpg = tokens_per_group(mod->shift, t, d, op, "mod.shift");
    if (tokens_per_group(mod->scale, t, d, op, "mod.scale") != tpg)
      fail_internal("layernorm (CUDA): shift and scale have different group counts",
                    err_ctx(shape_str(mod->shift.shape()), shape_str(mod->scale.shape())));
    a = mod->shift.data<float>();
    b = mod->scale.data<float>();
  }
  if (t == 0 || d == 0) return;
  layernorm_kernel<<<static_cast<unsigned>(t), row_threads(d), 0, stream()>>>(x.data<float>(), out.data<float>(),
                                                                               d, eps, mode, a, b, tpg);
  QDIT_CUDA_LAUNCH_CHECK("layernorm_kernel");
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
