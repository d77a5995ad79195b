// ops::rmsnorm_rope on the GPU: the q/k RMSNorm over the full row (all heads) and the interleaved-pair RoPE in
// one kernel, one block per token row: one read and one write of the row instead of two of each. Same block
// size, same sum of squares (rms_inverse) and same per-element functions as rmsnorm_kernel then rope_kernel, so
// the result is bit-identical to the two ops run one after the other.
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/reduce.cuh"
#include "qdit/ops/cuda/row_math.cuh"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace {

__global__ void rmsnorm_rope_kernel(float* __restrict__ x, const float* __restrict__ w, int64_t d, float eps,
                                    const float* __restrict__ cos_t, const float* __restrict__ sin_t, int64_t half) {
  __shared__ float scratch[32];
  const int64_t t = blockIdx.x;
  float* row = x + t * d;
  // Every read of the row happens before block_sum's barriers, so the in-place writes below race with nothing.
  const float r = rms_inverse(row, d, eps, scratch);
  const float* c = cos_t + t * half;
  const float* s = sin_t + t * half;
  for (int64_t p = threadIdx.x; p < d / 2; p += blockDim.x) {
    const int64_t i = 2 * p, f = p % half;  // pair p of the row is pair p % half of its head
    const float2 v = reinterpret_cast<const float2*>(row)[p];
    reinterpret_cast<float2*>(row)[p] = rope_pair(rmsnorm_value(v.x, r, w[i]), rmsnorm_value(v.y, r, w[i + 1]), c[f], s[f]);
  }
}

}  // namespace

void rmsnorm_rope(Tensor& x, const Tensor& w, float eps, int64_t heads, const Tensor& cos, const Tensor& sin) {
  const char* op = "rmsnorm_rope (CUDA)";
  require_device(x, op, "x");
  require_dtype(x, DType::F32, op, "x");
  require_2d(x, op, "x");
  const int64_t t = x.dim(0), d = x.dim(1);
  require_f32(w, {d}, op, "w");
  if (heads <= 0 || d % heads != 0 || (d / heads) % 2 != 0)
    fail_internal("rmsnorm_rope (CUDA): features do not split into heads of even size",
                  err_ctx("features divisible by heads, even head_dim", std::to_string(d) + " features, " + std::to_string(heads) + " heads"));
  const int64_t half = d / heads / 2;
  require_f32(cos, {t, half}, op, "cos");
  require_f32(sin, {t, half}, op, "sin");
  if ((reinterpret_cast<uintptr_t>(x.raw()) & 7u) != 0)
    fail_internal("rmsnorm_rope (CUDA): x must be 8-byte aligned (pairs are read as float2)",
                  err_ctx("8-byte aligned", "misaligned view"));
  if (t == 0 || d == 0) return;
  rmsnorm_rope_kernel<<<static_cast<unsigned>(t), row_threads(d), 0, stream()>>>(
      x.data<float>(), w.data<float>(), d, eps, cos.data<float>(), sin.data<float>(), half);
  QDIT_CUDA_LAUNCH_CHECK("rmsnorm_rope_kernel");
}

}  // namespace qdit::ops::cuda
