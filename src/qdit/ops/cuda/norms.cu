// RMSNorm (fp32 mean of squares over the full row) and the per-token-group table check shared by the row ops.
// The output is x itself (in place), another F32 tensor, or BF16 (the same values rounded to nearest even: the
// copy a bf16 attention input needs, without a separate conversion pass).
// Kernel rule, shared with rmsnorm_rope (rms_group_shape) so that the two stay bit-identical: D % 4 == 0, x and
// out 16-byte aligned and group_shape(D / 4) takes the row: a row group of row_group.cuh with the row in
// registers; any other row: one block per row (rms_inverse). LayerNorm lives in layernorm.cu, the fused RMSNorm + RoPE in rmsnorm_rope.cu.
#include "qdit/ops/cuda/activation_dtype.cuh"
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/internal.h"
#include "qdit/ops/cuda/reduce.cuh"
#include "qdit/ops/cuda/row_group.cuh"
#include "qdit/ops/cuda/row_math.cuh"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace {

// x and out may be the same F32 row (in place): each thread reads all it needs before the reductions' barriers
// and then writes only elements it read itself.
template <typename OutT>
__global__ void rmsnorm_kernel(const float* x, const float* __restrict__ w, int64_t d, float eps, OutT* out) {
  __shared__ float scratch[32];
  const float* row = x + static_cast<int64_t>(blockIdx.x) * d;
  OutT* orow = out + static_cast<int64_t>(blockIdx.x) * d;
  const float r = rms_inverse(row, d, eps, scratch);
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) store1(orow, i, rmsnorm_value(row[i], r, w[i]));
}

template <int V, typename OutT>
__global__ void __launch_bounds__(512)
    rmsnorm_group_kernel(const float* x, const float* __restrict__ w, int64_t tokens, int64_t d, int warps,
                         float eps, OutT* out) {
  __shared__ float sq_slots[kGroupMaxWarps];
  const RowGroup g = row_group(warps);
  float4 v[V];
  const float r = load_row_rms_inverse<V>(x, d, tokens, g, eps, sq_slots, v);
  if (g.row >= tokens) return;
  const int d4 = static_cast<int>(d / 4);
  OutT* row = out + g.row * d;
  const float4* w4 = reinterpret_cast<const float4*>(w);
#pragma unroll
  for (int j = 0; j < V; ++j) {
    const int i = g.lane + j * g.stride;
    if (i >= d4) continue;
    const float4 c = w4[i];
    store4(row, i, make_float4(rmsnorm_value(v[j].x, r, c.x), rmsnorm_value(v[j].y, r, c.y),
                               rmsnorm_value(v[j].z, r, c.z), rmsnorm_value(v[j].w, r, c.w)));
  }
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

void rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor& out) {
  const char* op = "rmsnorm (CUDA)";
  require_device(x, op, "x");
  require_dtype(x, DType::F32, op, "x");
  require_2d(x, op, "x");
  int64_t t = x.dim(0), d = x.dim(1);
  require_f32(w, {d}, op, "w");
  require_row_output(x, out, op);
  if (t == 0 || d == 0) return;
  with_f32_or_bf16(out, op, "out", [&](auto* o) {
    if (const GroupShape g = rms_group_shape(d, x.raw(), w.raw(), out.raw()); g.v) {
      with_group_v(g, [&](auto vc) {
        rmsnorm_group_kernel<decltype(vc)::value><<<group_blocks(t, g), g.block, 0, stream()>>>(
            x.data<float>(), w.data<float>(), t, d, g.warps, eps, o);
      });
      QDIT_CUDA_LAUNCH_CHECK("rmsnorm_group_kernel");
      return;
    }
    rmsnorm_kernel<<<static_cast<unsigned>(t), row_threads(d), 0, stream()>>>(x.data<float>(), w.data<float>(), d,
                                                                             eps, o);
    QDIT_CUDA_LAUNCH_CHECK("rmsnorm_kernel");
  });
}

}  // namespace qdit::ops::cuda
