// LayerNorm (plain, modulated, or affine), one block per token row, fp32 statistics in two passes (mean, then
// the mean of squared deviations, as the float64 reference does, not E[x^2]-E[x]^2), into F32 or directly into
// the input form of the next linear layer (bf16, or int8 with its per-token scale / static parameters).
//
// Kernel choice is a fixed rule on the row, the same for every output form, so the fused forms are
// bit-identical to the F32 LayerNorm followed by convert / quantize_per_token / quantize_static:
//   group    K % 4 == 0, x 16-byte aligned, group_shape(K / 4) takes it (K <= 24576, all Wan widths): a row
//            group of 1..16 warps (row_group.cuh) reads the row once into registers; statistics, normalisation
//            and rounding/quantization run there, reductions by warp shuffles and at most one barrier each;
//   staged   K % 4 == 0, x 16-byte aligned, K <= 4 * 1024 * kStagedV: the same with one block per row;
//   unstaged any other row: F32 kernel reading the row three times; other forms then go through F32 scratch
//            and the stand-alone conversion (same values, one more pass).
// The group and staged kernels sum in different orders (both fp32, within the float64 reference's tolerance).
#include "qdit/ops/cuda/arena.h"
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/internal.h"
#include "qdit/ops/cuda/reduce.cuh"
#include "qdit/ops/cuda/row_group.cuh"
#include "qdit/ops/cuda/row_math.cuh"
#include "qdit/ops/cuda/row_sink.cuh"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace {

// What the modes of layernorm_value need per launch.
struct LnParams {
  int64_t d = 0;
  float eps = 0.0f;
  int mode = 0;              // see layernorm_value
  const float* a = nullptr;  // shift [G,D] (mode 1) or weight [D] (mode 2)
  const float* b = nullptr;  // scale [G,D] (mode 1) or bias [D] (mode 2)
  int64_t tokens_per_group = 1;
  bool vec_ab = false;  // a and b (those given) are 16-byte aligned: the group kernel reads them as float4
};

__device__ __forceinline__ void group_rows(const LnParams& p, int64_t t, const float*& a, const float*& b) {
  a = p.a;
  b = p.b;
  if (p.mode == 1) {
    const int64_t g = t / p.tokens_per_group;
    a += g * p.d;
    b += g * p.d;
  }
}

__global__ void layernorm_unstaged_kernel(const float* __restrict__ x, float* __restrict__ out, LnParams p) {
  __shared__ float scratch[32];
  const int64_t t = blockIdx.x, d = p.d;
  const float* row = x + t * d;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) s = __fadd_rn(s, row[i]);
  const float mean = __fdiv_rn(block_sum(s, scratch), static_cast<float>(d));
  float q = 0.0f;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    const float c = __fsub_rn(row[i], mean);
    q = __fmaf_rn(c, c, q);
  }
  const float rstd = inv_sqrt_rn(__fdiv_rn(block_sum(q, scratch), static_cast<float>(d)), p.eps);
  const float *a, *b;
  group_rows(p, t, a, b);
  float* o = out + t * d;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) o[i] = layernorm_value(row[i], mean, rstd, p.mode, a, b, i);
}

template <int V>
// At most 64 registers a thread, so that 1024-thread blocks (the widest staged rows) can launch.
__global__ void __launch_bounds__(1024)
    layernorm_staged_kernel(const float* __restrict__ x, LnParams p, RowSink sink) {
  __shared__ float scratch[32];
  const int64_t t = blockIdx.x, d = p.d, d4 = d / 4;
  const float4* row = reinterpret_cast<const float4*>(x + t * d);
  float4 v[V];
  float s = 0.0f;
#pragma unroll
  for (int j = 0; j < V; ++j) {
    const int64_t i = threadIdx.x + int64_t(j) * blockDim.x;
    v[j] = i < d4 ? row[i] : make_float4(0.f, 0.f, 0.f, 0.f);
    if (i < d4) s = __fadd_rn(__fadd_rn(__fadd_rn(__fadd_rn(s, v[j].x), v[j].y), v[j].z), v[j].w);
  }
  const float mean = __fdiv_rn(block_sum(s, scratch), static_cast<float>(d));
  float q = 0.0f;
#pragma unroll
  for (int j = 0; j < V; ++j) {
    if (threadIdx.x + int64_t(j) * blockDim.x >= d4) continue;
    const float c0 = __fsub_rn(v[j].x, mean), c1 = __fsub_rn(v[j].y, mean), c2 = __fsub_rn(v[j].z, mean),
                c3 = __fsub_rn(v[j].w, mean);
    q = __fmaf_rn(c3, c3, __fmaf_rn(c2, c2, __fmaf_rn(c1, c1, __fmaf_rn(c0, c0, q))));
  }
  const float rstd = inv_sqrt_rn(__fdiv_rn(block_sum(q, scratch), static_cast<float>(d)), p.eps);
  const float *a, *b;
  group_rows(p, t, a, b);
#pragma unroll
  for (int j = 0; j < V; ++j) {
    const int64_t i = threadIdx.x + int64_t(j) * blockDim.x;
    if (i >= d4) continue;
    v[j] = make_float4(layernorm_value(v[j].x, mean, rstd, p.mode, a, b, 4 * i),
                       layernorm_value(v[j].y, mean, rstd, p.mode, a, b, 4 * i + 1),
                       layernorm_value(v[j].z, mean, rstd, p.mode, a, b, 4 * i + 2),
                       layernorm_value(v[j].w, mean, rstd, p.mode, a, b, 4 * i + 3));
  }
  sink_row<V>(sink, v, t, d, scratch);
}

// Sum of the 4 values, pairwise.
__device__ __forceinline__ float sum4(const float4 v) { return __fadd_rn(__fadd_rn(v.x, v.y), __fadd_rn(v.z, v.w)); }

__device__ __forceinline__ float4 load4(const float* p, int64_t e, bool vec) {
  if (vec) return *reinterpret_cast<const float4*>(p + e);
  return make_float4(p[e], p[e + 1], p[e + 2], p[e + 3]);
}

template <int V>
__global__ void __launch_bounds__(512)
    layernorm_group_kernel(const float* __restrict__ x, int64_t tokens, int warps, LnParams p, RowSink sink) {
  __shared__ float sum_slots[kGroupMaxWarps], sq_slots[kGroupMaxWarps], max_slots[kGroupMaxWarps];
  const RowGroup g = row_group(warps);
  const int64_t d = p.d;
  const int d4 = static_cast<int>(d / 4);
  float4 v[V];
  load_row<V>(x, d, tokens, g, v);
  float s = 0.0f;  // padding slots are zeros
#pragma unroll
  for (int j = 0; j < V; ++j) s = __fadd_rn(s, sum4(v[j]));
  const float mean = __fdiv_rn(group_sum(s, g, sum_slots), static_cast<float>(d));
  float q = 0.0f;
#pragma unroll
  for (int j = 0; j < V; ++j) {
    if (g.lane + j * g.stride >= d4) continue;  // a padding zero minus the mean is not zero
    const float c0 = __fsub_rn(v[j].x, mean), c1 = __fsub_rn(v[j].y, mean), c2 = __fsub_rn(v[j].z, mean),
                c3 = __fsub_rn(v[j].w, mean);
    q = __fmaf_rn(c3, c3, __fmaf_rn(c2, c2, __fmaf_rn(c1, c1, __fmaf_rn(c0, c0, q))));
  }
  const float rstd = inv_sqrt_rn(__fdiv_rn(group_sum(q, g, sq_slots), static_cast<float>(d)), p.eps);
  const float *a = p.a, *b = p.b;
  if (p.mode == 1 && g.row < tokens) {
    const int64_t grp = g.row / p.tokens_per_group;
    a += grp * d;
    b += grp * d;
  }
  const bool has_a = a != nullptr, has_b = b != nullptr;
#pragma unroll
  for (int j = 0; j < V; ++j) {
    const int i = g.lane + j * g.stride;
    if (i >= d4) continue;
    const float4 av = has_a ? load4(a, 4 * int64_t(i), p.vec_ab) : make_float4(0.f, 0.f, 0.f, 0.f);
    const float4 bv = has_b ? load4(b, 4 * int64_t(i), p.vec_ab) : make_float4(0.f, 0.f, 0.f, 0.f);
    v[j] = make_float4(layernorm_apply(v[j].x, mean, rstd, p.mode, has_a, av.x, has_b, bv.x),
                       layernorm_apply(v[j].y, mean, rstd, p.mode, has_a, av.y, has_b, bv.y),
                       layernorm_apply(v[j].z, mean, rstd, p.mode, has_a, av.z, has_b, bv.z),
                       layernorm_apply(v[j].w, mean, rstd, p.mode, has_a, av.w, has_b, bv.w));
  }
  sink_group_row<V>(sink, v, g, tokens, d, max_slots);
}

// Validates the affine/modulation arguments and fills the launch parameters.
LnParams ln_params(const Tensor& x, const Tensor& weight, const Tensor& bias, const Modulation* mod, float eps,
                   const char* op) {
  require_device(x, op, "x");
  require_dtype(x, DType::F32, op, "x");
  require_2d(x, op, "x");
  LnParams p;
  const int64_t t = x.dim(0);
  p.d = x.dim(1);
  p.eps = eps;
  if (weight.defined() || bias.defined()) {
    p.mode = 2;
    if (weight.defined()) {
      require_f32(weight, {p.d}, op, "weight");
      p.a = weight.data<float>();
    }
    if (bias.defined()) {
      require_f32(bias, {p.d}, op, "bias");
      p.b = bias.data<float>();
    }
  } else if (mod && (mod->shift.defined() || mod->scale.defined())) {
    if (!mod->shift.defined() || !mod->scale.defined())
      fail_internal(std::string(op) + ": modulation needs both shift and scale",
                    err_ctx("shift and scale defined", "only one of them"));
    p.mode = 1;
    p.tokens_per_group = group_size_for(mod->shift, t, p.d, op, "mod.shift");
    if (group_size_for(mod->scale, t, p.d, op, "mod.scale") != p.tokens_per_group)
      fail_internal(std::string(op) + ": shift and scale have different group counts",
                    err_ctx(shape_str(mod->shift.shape()), shape_str(mod->scale.shape())));
    p.a = mod->shift.data<float>();
    p.b = mod->scale.data<float>();
  }
  p.vec_ab = (!p.a || aligned16(p.a)) && (!p.b || aligned16(p.b));
  return p;
}

// The row-group shape for this row, or v == 0 when the row takes one of the older kernels (see the top).
GroupShape group_shape_for(const Tensor& x) {
  const int64_t d = x.dim(1);
  if (d == 0 || d % 4 != 0 || !aligned16(x.raw())) return GroupShape{};
  return group_shape(d / 4);
}

// The staged kernel's block size for this row, or 0 when the row takes the unstaged kernel (see the top).
int staged_threads(const Tensor& x) {
  const int64_t d = x.dim(1);
  if (d == 0 || d % 4 != 0 || !aligned16(x.raw())) return 0;
  return staged_row_threads(d / 4);
}

void launch_group(const Tensor& x, const LnParams& p, const RowSink& sink, const GroupShape& g) {
  with_group_v(g, [&](auto vc) {
    layernorm_group_kernel<decltype(vc)::value><<<group_blocks(x.dim(0), g), g.block, 0, stream()>>>(
        x.data<float>(), x.dim(0), g.warps, p, sink);
  });
  QDIT_CUDA_LAUNCH_CHECK("layernorm_group_kernel");
}

void launch_staged(const Tensor& x, const LnParams& p, const RowSink& sink, int threads) {
  layernorm_staged_kernel<kStagedV><<<static_cast<unsigned>(x.dim(0)), threads, 0, stream()>>>(x.data<float>(), p,
                                                                                              sink);
  QDIT_CUDA_LAUNCH_CHECK("layernorm_staged_kernel");
}

void launch_unstaged(const Tensor& x, const LnParams& p, float* out) {
  layernorm_unstaged_kernel<<<static_cast<unsigned>(x.dim(0)), row_threads(p.d), 0, stream()>>>(x.data<float>(), out,
                                                                                               p);
  QDIT_CUDA_LAUNCH_CHECK("layernorm_unstaged_kernel");
}

}  // namespace

void layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Modulation* mod, float eps,
               Tensor& out) {
  const char* op = "layernorm (CUDA)";
  const LnParams p = ln_params(x, weight, bias, mod, eps, op);
  require_f32(out, x.shape(), op, "out");
  if (x.dim(0) == 0 || p.d == 0) return;
  if (GroupShape g = group_shape_for(x); g.v) return launch_group(x, p, row_sink_f32(out.data<float>()), g);
  if (int threads = staged_threads(x)) return launch_staged(x, p, row_sink_f32(out.data<float>()), threads);
  launch_unstaged(x, p, out.data<float>());
}

void layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Modulation* mod, float eps,
               LinearInput& out) {
  const char* op = "layernorm (CUDA)";
  const LnParams p = ln_params(x, weight, bias, mod, eps, op);
  require_device(out.values, op, "out.values");
  require_shape(out.values, x.shape(), op, "out.values");
  if (x.dim(0) == 0 || p.d == 0) return;
  if (GroupShape g = group_shape_for(x); g.v) return launch_group(x, p, row_sink(out), g);
  if (int threads = staged_threads(x)) return launch_staged(x, p, row_sink(out), threads);
  if (out.spec.form == LinearInputForm::F32) return launch_unstaged(x, p, out.values.data<float>());
  ArenaScope scratch;
  Tensor y = empty(x.shape(), DType::F32);
  launch_unstaged(x, p, y.data<float>());
  to_linear_input(y, out);
}

}  // namespace qdit::ops::cuda
