// ops::gelu_tanh into the input form of the next linear layer (ffn.down): one block per row, the row staged in
// registers, so the per-token absmax and the quantization need one read of the FFN hidden row and one write of
// int8 (plus the scale) instead of a write and a re-read of the F32 row. Each element is gelu_tanh_value, the
// function the in-place activation kernel applies, so the output is bit-identical to gelu_tanh then
// convert / quantize_per_token / quantize_static. Rule: K % 4 == 0 and x 16-byte aligned: a row group of
// row_group.cuh when group_shape takes the row (K <= 24576: F = 8960, 13824), else one block per row
// (K <= 32768); other rows run the in-place kernel on a copy and the stand-alone conversion: same values, more
// passes. (Elementwise values and an absmax: every layout gives the same bits.)
#include <cstdint>
#include <string>
#include <type_traits>

#include "qdit/ops/cuda/arena.h"
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/internal.h"
#include "qdit/ops/cuda/row_group.cuh"
#include "qdit/ops/cuda/row_math.cuh"
#include "qdit/ops/cuda/row_sink.cuh"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace {

template <int V, class T>
// At most 64 registers a thread, so that 1024-thread blocks (the widest staged rows) can launch.
__global__ void __launch_bounds__(1024)
    gelu_tanh_staged_kernel(const T* __restrict__ x, int64_t k, RowSink sink) {
  __shared__ float scratch[32];
  const int64_t t = blockIdx.x, k4 = k / 4;
  const T* row = x + t * k;
  float4 v[V];
#pragma unroll
  for (int j = 0; j < V; ++j) {
    const int64_t i = threadIdx.x + int64_t(j) * blockDim.x;
    v[j] = make_float4(0.f, 0.f, 0.f, 0.f);
    if (i >= k4) continue;
    const float4 a = load4(row, i);
    v[j] = make_float4(gelu_tanh_value(a.x), gelu_tanh_value(a.y), gelu_tanh_value(a.z), gelu_tanh_value(a.w));
  }
  // When out aliases x (F32 form in place) every thread writes only the float4 it read itself.
  sink_row<V>(sink, v, t, k, scratch);
}

template <int V, class T>
__global__ void __launch_bounds__(512)
    gelu_tanh_group_kernel(const T* __restrict__ x, int64_t tokens, int64_t k, int warps, RowSink sink) {
  __shared__ float max_slots[kGroupMaxWarps];
  const RowGroup g = row_group(warps);
  float4 v[V];
  load_row<V>(x, k, tokens, g, v);  // every load issued before the first tanh
#pragma unroll
  for (int j = 0; j < V; ++j)
    v[j] = make_float4(gelu_tanh_value(v[j].x), gelu_tanh_value(v[j].y), gelu_tanh_value(v[j].z),
                       gelu_tanh_value(v[j].w));
  // In place (F32 form with out == x) every thread writes only the float4 it read itself.
  sink_group_row<V>(sink, v, g, tokens, k, max_slots);
}

}  // namespace

void gelu_tanh(const Tensor& x, LinearInput& out) {
  const char* op = "gelu_tanh (CUDA)";
  require_device(x, op, "x");
  if (x.dtype() != DType::F32 && x.dtype() != DType::BF16)
    fail_internal("gelu_tanh (CUDA): x must be F32 or BF16", err_ctx("F32 or BF16", std::string(dtype_name(x.dtype()))));
  require_2d(x, op, "x");
  require_device(out.values, op, "out.values");
  require_shape(out.values, x.shape(), op, "out.values");
  const int64_t t = x.dim(0), k = x.dim(1);
  if (t == 0 || k == 0) return;
  const bool bf16 = x.dtype() == DType::BF16;
  // Rows of whole float4 (bf16: 8-byte groups of four) at aligned addresses take the fused kernels.
  const bool rows4 = k % 4 == 0 && (bf16 ? (reinterpret_cast<uintptr_t>(x.raw()) & 7u) == 0 : aligned16(x.raw()));
  const GroupShape g = rows4 ? group_shape(k / 4) : GroupShape{};
  const int threads = rows4 && !g.v ? staged_row_threads(k / 4) : 0;
  if (g.v || threads) {
    auto launch = [&](const auto* xp) {
      using T = std::remove_const_t<std::remove_pointer_t<decltype(xp)>>;
      if (g.v) {
        with_group_v(g, [&](auto vc) {
          gelu_tanh_group_kernel<decltype(vc)::value, T>
              <<<group_blocks(t, g), g.block, 0, stream()>>>(xp, t, k, g.warps, row_sink(out));
        });
        QDIT_CUDA_LAUNCH_CHECK("gelu_tanh_group_kernel");
      } else {
        gelu_tanh_staged_kernel<kStagedV, T>
            <<<static_cast<unsigned>(t), threads, 0, stream()>>>(xp, k, row_sink(out));
        QDIT_CUDA_LAUNCH_CHECK("gelu_tanh_staged_kernel");
      }
    };
    if (bf16)
      launch(static_cast<const __nv_bfloat16*>(x.raw()));
    else
      launch(x.data<float>());
    return;
  }
  if (bf16) {  // other bf16 rows: widened to fp32 first (exact), then the paths below
    ArenaScope scratch;
    Tensor xf = empty(x.shape(), DType::F32);
    convert(x, xf);
    return cuda::gelu_tanh(xf, out);
  }
  if (out.spec.form == LinearInputForm::F32) {
    if (out.values.raw() != x.raw()) copy(x, out.values);
    return gelu_tanh(out.values);
  }
  ArenaScope scratch;
  Tensor y = empty(x.shape(), DType::F32);
  copy(x, y);
  gelu_tanh(y);
  to_linear_input(y, out);
}

}  // namespace qdit::ops::cuda
