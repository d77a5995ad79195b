// ops::rmsnorm_rope on the GPU: the q/k RMSNorm over the full row (all heads) and the interleaved-pair RoPE in
// one kernel: one read and one write of the row instead of two of each. Same kernel rule as rmsnorm
// (rms_group_shape: a row group of row_group.cuh with group_rms_inverse, else one block per row with
// rms_inverse at the same block size) and the same per-element functions as rmsnorm then rope_kernel, so the
// result is bit-identical to the two ops run one after the other. The output is x itself, another F32 tensor, or
// BF16 (the same values rounded to nearest even: attention's bf16 q/k without a conversion pass).
#include "qdit/ops/cuda/activation_dtype.cuh"
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/reduce.cuh"
#include "qdit/ops/cuda/row_group.cuh"
#include "qdit/ops/cuda/row_math.cuh"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace {

// x and out may be the same F32 row (in place): every read of the row happens before block_sum's barriers, and
// each thread then writes only the pairs it reads.
template <typename OutT>
__global__ void rmsnorm_rope_kernel(const float* x, const float* __restrict__ w, int64_t d, float eps,
                                    const float* __restrict__ cos_t, const float* __restrict__ sin_t, int64_t half,
                                    OutT* out) {
  __shared__ float scratch[32];
  const int64_t t = blockIdx.x;
  const float* row = x + t * d;
  OutT* orow = out + t * d;
  const float r = rms_inverse(row, d, eps, scratch);
  const float* c = cos_t + t * half;
  const float* s = sin_t + t * half;
  for (int64_t p = threadIdx.x; p < d / 2; p += blockDim.x) {
    const int64_t i = 2 * p, f = p % half;  // pair p of the row is pair p % half of its head
    const float2 v = reinterpret_cast<const float2*>(row)[p];
    store2(orow, p, rope_pair(rmsnorm_value(v.x, r, w[i]), rmsnorm_value(v.y, r, w[i + 1]), c[f], s[f]));
  }
}

// Row-group form. A float4 of the row holds pairs 2i and 2i+1; the pair's index within its head (the table
// column) is tracked incrementally from the thread's first slot so that no division runs per element.
template <int V, typename OutT>
__global__ void __launch_bounds__(512)
    rmsnorm_rope_group_kernel(const float* x, const float* __restrict__ w, int64_t tokens, int64_t d, int warps,
                              float eps, const float* __restrict__ cos_t, const float* __restrict__ sin_t, int half,
                              OutT* out) {
  __shared__ float sq_slots[kGroupMaxWarps];
  const RowGroup g = row_group(warps);
  float4 v[V];
  const float r = load_row_rms_inverse<V>(x, d, tokens, g, eps, sq_slots, v);
  if (g.row >= tokens) return;
  const int d4 = static_cast<int>(d / 4);
  OutT* row = out + g.row * d;
  const float4* w4 = reinterpret_cast<const float4*>(w);
  const float* c = cos_t + g.row * half;
  const float* s = sin_t + g.row * half;
  int f = (2 * g.lane) % half;                // table column of pair 2 * (lane + j * stride)
  const int step = (2 * g.stride) % half;     // how far it moves from one slot to the next
#pragma unroll
  for (int j = 0; j < V; ++j) {
    const int i = g.lane + j * g.stride;
    if (i < d4) {
      const int f1 = f + 1 == half ? 0 : f + 1;  // pair 2i + 1 may start the next head (odd half)
      const float4 wv = w4[i];
      const float2 p0 = rope_pair(rmsnorm_value(v[j].x, r, wv.x), rmsnorm_value(v[j].y, r, wv.y), c[f], s[f]);
      const float2 p1 = rope_pair(rmsnorm_value(v[j].z, r, wv.z), rmsnorm_value(v[j].w, r, wv.w), c[f1], s[f1]);
      store4(row, i, make_float4(p0.x, p0.y, p1.x, p1.y));
    }
    f += step;
    if (f >= half) f -= half;
  }
}

}  // namespace

void rmsnorm_rope(const Tensor& x, const Tensor& w, float eps, int64_t heads, const Tensor& cos, const Tensor& sin,
                  Tensor& out) {
  const char* op = "rmsnorm_rope (CUDA)";
  require_device(x, op, "x");
  require_dtype(x, DType::F32, op, "x");
  require_2d(x, op, "x");
  const int64_t t = x.dim(0), d = x.dim(1);
  require_f32(w, {d}, op, "w");
  require_row_output(x, out, op);
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
  with_f32_or_bf16(out, op, "out", [&](auto* o) {
    if (const GroupShape g = rms_group_shape(d, x.raw(), w.raw(), out.raw()); g.v) {
      with_group_v(g, [&](auto vc) {
        rmsnorm_rope_group_kernel<decltype(vc)::value><<<group_blocks(t, g), g.block, 0, stream()>>>(
            x.data<float>(), w.data<float>(), t, d, g.warps, eps, cos.data<float>(), sin.data<float>(),
            static_cast<int>(half), o);
      });
      QDIT_CUDA_LAUNCH_CHECK("rmsnorm_rope_group_kernel");
      return;
    }
    rmsnorm_rope_kernel<<<static_cast<unsigned>(t), row_threads(d), 0, stream()>>>(
        x.data<float>(), w.data<float>(), d, eps, cos.data<float>(), sin.data<float>(), half, o);
    QDIT_CUDA_LAUNCH_CHECK("rmsnorm_rope_kernel");
  });
}

}  // namespace qdit::ops::cuda
