// GPU benchmarks of the CUDA backend (issue 5 targets), timed with CUDA events on qdit's stream, inputs random
// and generated on the device. Each GEMM shape is run several ways in the same process so ratios are same-run:
//   W8A8DynamicLinear: ops::linear as the model calls it (per-token quantization of fp32 x + int8 GEMM with the
//                      scales and bias in the epilogue, fp32 output); the label names the int8 kernel that the
//                      selection rule (int8_gemm_path) picked for the shape;
//   W8A8DynamicQuantGemm: the same two steps with the int8 kernel named (argument 4), for each candidate default;
//   Int8GemmOnly:      the int8 GEMM with its fused epilogue on already-quantized activations; arguments 4 and 5:
//                      the kernel (cu::Int8Kernel, see internal.h) and the output (0 fp32, 1 bf16);
//   Bf16GemmCublasLt:  the bf16 cuBLASLt GEMM (fp32 accumulate, fp32 output) that Float layers use.
// Attention at Wan 14B's self-attention size (cuDNN's SDPA and our own flash kernel, same run) and a
// device-to-device copy (the bandwidth ceiling) complete it.
// bench/gpu/run.sh adds PyTorch's bf16 matmul, int8 matmul (torch._int_mm, cuBLASLt) and cuDNN SDPA as
// external baselines.
#include <benchmark/benchmark.h>

#include <functional>
#include <string>
#include <tuple>

#include "gpu/bench_util.h"
#include "qdit/ops/cuda/arena.h"
#include "qdit/ops/cuda/attention_cudnn.h"
#include "qdit/ops/cuda/attention_int8.h"
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/internal.h"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/ops.h"

namespace qdit::bench {
namespace {

namespace cu = ops::cuda;

// Event-timed iterations (bench_util.h) plus the declared work and the card's name.
void timed(benchmark::State& state, const std::function<void()>& fn, double flop, double bytes) {
  time_with_events(state, fn, flop);
  state.counters["flop"] = flop;
  state.counters["bytes"] = bytes;
  state.SetLabel(cu::device_info().name);
}

// The W8A8_DYNAMIC GEMM of int8 activations a [T, K] (per-token scales st) and weights b [N, K] (per-channel
// scales sw, bias) into y [T, N].
cu::Int8Gemm dynamic_gemm(const Tensor& a, const Tensor& b, const Tensor& st, const Tensor& sw, const Tensor& bias,
                          Tensor& y) {
  cu::Int8Gemm g;
  g.a = a.data<int8_t>();
  g.b = b.data<int8_t>();
  g.m = a.dim(0);
  g.n = b.dim(0);
  g.k = a.dim(1);
  g.out = y.raw();
  g.row_scale = st.data<float>();
  g.col_scale = sw.data<float>();
  g.bias = bias.data<float>();
  return g;
}

// ops::linear of a W8A8_DYNAMIC layer on activations in `x_dtype`: F32 (what the unfused path quantizes from), or
// BF16, the form the bf16 GEMM baseline itself is given (its conversion is not timed either), so that both sides
// start from the same activation tensor and the int8 side pays for its quantization.
void w8a8_dynamic_linear(benchmark::State& state, DType x_dtype) {
  int64_t t = state.range(0), n = state.range(1), k = state.range(2);
  cu::ArenaScope scope;
  QuantLinear w;
  w.scheme = SchemeId::W8A8Dynamic;
  w.out_features = n;
  w.in_features = k;
  w.weight = rand_i8({n, k}, 1);
  w.weight_scale = rand_f32({n}, 1e-4f, 1e-3f, 2);
  w.bias = rand_f32({n}, -1.0f, 1.0f, 3);
  Tensor x = rand_uniform({t, k}, x_dtype, -3.0f, 3.0f, 4), y = dev({t, n}, DType::F32);
  const double x_bytes = x_dtype == DType::BF16 ? 2.0 : 4.0;
  timed(state, [&] { ops::linear(x, w, y, ops::Precision::BF16); }, 2.0 * t * n * k,
        double(t) * k * x_bytes + double(n) * k + double(t) * n * 4);
  // The kernel ops::linear's int8 GEMM runs at this shape (the arena's tensors are 256-byte aligned).
  cu::Int8Gemm probe;
  probe.a = w.weight.data<int8_t>();
  probe.b = w.weight.data<int8_t>();
  probe.m = t;
  probe.n = n;
  probe.k = k;
  state.SetLabel(std::string(cu::device_info().name) + " | int8 kernel " + cu::int8_gemm_kernel_name(probe));
}
void BM_W8A8DynamicLinear(benchmark::State& state) { w8a8_dynamic_linear(state, DType::F32); }
void BM_W8A8DynamicLinearBf16In(benchmark::State& state) { w8a8_dynamic_linear(state, DType::BF16); }

// What ops::linear does for a W8A8_DYNAMIC layer (per-token quantization, then the int8 GEMM with scales and
// bias in the epilogue, fp32 out), with the int8 kernel named explicitly (argument 4): the same-run cost of
// the whole layer for every candidate default.
void BM_W8A8DynamicQuantGemm(benchmark::State& state) {
  int64_t t = state.range(0), n = state.range(1), k = state.range(2), kernel = state.range(3);
  cu::ArenaScope scope;
  Tensor w = rand_i8({n, k}, 1), sw = rand_f32({n}, 1e-4f, 1e-3f, 2), bias = rand_f32({n}, -1.0f, 1.0f, 3);
  Tensor x = rand_f32({t, k}, -3.0f, 3.0f, 4), y = dev({t, n}, DType::F32), xq = dev({t, k}, DType::I8),
         st = dev({t}, DType::F32);
  const cu::Int8Gemm g = dynamic_gemm(xq, w, st, sw, bias, y);
  const auto kind = static_cast<cu::Int8Kernel>(kernel);
  timed(state, [&] {
    cu::quantize_per_token(x, -128, 127, xq, st);
    cu::int8_gemm_with(g, cu::Int8Epilogue::Dynamic, kind);
  },
        2.0 * t * n * k, double(t) * k * 4 + double(n) * k + double(t) * n * 4);
  state.SetLabel(std::string(cu::device_info().name) + " | " + cu::int8_kernel_name(kind));
}

void BM_Int8GemmOnly(benchmark::State& state) {
  int64_t t = state.range(0), n = state.range(1), k = state.range(2), kernel = state.range(3), bf16 = state.range(4);
  cu::ArenaScope scope;
  Tensor a = rand_i8({t, k}, 5), b = rand_i8({n, k}, 6), st = rand_f32({t}, 1e-3f, 1e-2f, 7),
         sw = rand_f32({n}, 1e-4f, 1e-3f, 8), bias = rand_f32({n}, -1.0f, 1.0f, 9),
         y = dev({t, n}, bf16 ? DType::BF16 : DType::F32);
  cu::Int8Gemm g = dynamic_gemm(a, b, st, sw, bias, y);
  g.out_bf16 = bf16 != 0;
  const auto kind = static_cast<cu::Int8Kernel>(kernel);
  timed(state, [&] { cu::int8_gemm_with(g, cu::Int8Epilogue::Dynamic, kind); }, 2.0 * t * n * k,
        double(t) * k + double(n) * k + double(t) * n * (bf16 ? 2 : 4));
  state.SetLabel(std::string(cu::device_info().name) + " | " + cu::int8_kernel_name(kind) + (bf16 ? " bf16 out" : " f32 out"));
}

// The int8 layer against the bf16 GEMM on the same data, the comparison the 1.6x target makes. One bf16
// activation tensor x and one float weight matrix w (with a bias) feed both sides: argument 4, side 0 = the
// W8A8_DYNAMIC layer through ops::linear (x quantized per token inside the timed call; w quantized per output
// channel beforehand, symmetric absmax like msModelSlim's weights), 1 = the bf16 cuBLASLt GEMM on x and w
// rounded to bf16 (bias in its epilogue); both fp32 out. Argument 3, the draws: 0 = uniform (x in [-3, 3), w in
// [-0.05, 0.05)), 1 = normal (x sd 1, w sd 0.02), closer to a DiT's activations and weights. Why both: an
// H200 running int8 MMAs back to back is held at its power limit (ncu: 1.67 GHz against 1.92 for the
// memory-bound kernels, bench/RESULTS.md session 11), and the tensor cores' power depends on the bits they
// multiply; uniform draws fill every int8 bit, so they are the pessimistic case, not the typical one.
void BM_W8A8DynamicVsBf16SameData(benchmark::State& state) {
  const int64_t t = state.range(0), n = state.range(1), k = state.range(2), normal = state.range(3),
                side = state.range(4);
  cu::ArenaScope scope;
  Tensor x = normal ? rand_normal({t, k}, DType::BF16, 1.0f, 21) : rand_uniform({t, k}, DType::BF16, -3.0f, 3.0f, 21);
  Tensor wf = normal ? rand_normal({n, k}, DType::F32, 0.02f, 22) : rand_uniform({n, k}, DType::F32, -0.05f, 0.05f, 22);
  Tensor bias = rand_f32({n}, -1.0f, 1.0f, 23), y = dev({t, n}, DType::F32);
  if (side == 0) {
    QuantLinear w;
    w.scheme = SchemeId::W8A8Dynamic;
    w.out_features = n;
    w.in_features = k;
    w.weight = dev({n, k}, DType::I8);
    w.weight_scale = dev({n}, DType::F32);
    cu::quantize_per_token(wf, -128, 127, w.weight, w.weight_scale);  // per output channel: rows of w
    w.bias = bias;
    timed(state, [&] { ops::linear(x, w, y, ops::Precision::BF16); }, 2.0 * t * n * k,
          double(t) * k * 2 + double(n) * k + double(t) * n * 4);
  } else {
    Tensor wb = dev({n, k}, DType::BF16);
    cu::convert(wf, wb);
    timed(state, [&] { cu::gemm_lt(x, wb, bias, y); }, 2.0 * t * n * k,
          double(t) * k * 2 + double(n) * k * 2 + double(t) * n * 4);
  }
  state.SetLabel(std::string(cu::device_info().name) + (side ? " | bf16 cuBLASLt" : " | W8A8_DYNAMIC linear") +
                 (normal ? ", normal draws" : ", uniform draws"));
}

// Per-token int8 quantization of [t, k] activations; argument 3: 0 from F32, 1 from BF16 (an attention output).
void BM_QuantizePerToken(benchmark::State& state) {
  int64_t t = state.range(0), k = state.range(1);
  const bool bf16 = state.range(2) != 0;
  cu::ArenaScope scope;
  Tensor x = rand_uniform({t, k}, bf16 ? DType::BF16 : DType::F32, -3.0f, 3.0f, 10), xq = dev({t, k}, DType::I8),
         s = dev({t}, DType::F32);
  timed(state, [&] { cu::quantize_per_token(x, -128, 127, xq, s); }, 0, double(t) * k * (bf16 ? 3 : 5));
}

void BM_Bf16GemmCublasLt(benchmark::State& state) {
  int64_t t = state.range(0), n = state.range(1), k = state.range(2);
  cu::ArenaScope scope;
  Tensor x = rand_uniform({t, k}, DType::BF16, -3.0f, 3.0f, 11), w = rand_uniform({n, k}, DType::BF16, -0.05f, 0.05f, 12),
         y = dev({t, n}, DType::F32);
  timed(state, [&] { cu::gemm_lt(x, w, Tensor(), y); }, 2.0 * t * n * k,
        double(t) * k * 2 + double(n) * k * 2 + double(t) * n * 4);
}

// ops::attention in BF16 through one named kernel; argument 4: 0 = cuDNN's fused SDPA (the default rule for
// head_dim 128, QDIT_ATTENTION=cudnn), 4 or 8 = our mma.sync flash kernel with blocks of that many warps
// (QDIT_ATTENTION=own uses 8). The time includes what ops::attention does around the kernel: q/k/v rounded to bf16
// copies, and for cuDNN the bf16 output widened to fp32.
void BM_AttentionBf16(benchmark::State& state) {
  int64_t l = state.range(0), heads = state.range(1), hd = state.range(2), kernel = state.range(3);
  cu::ArenaScope scope;
  Tensor q = rand_f32({l, heads * hd}, -2.0f, 2.0f, 13), k = rand_f32({l, heads * hd}, -2.0f, 2.0f, 14),
         v = rand_f32({l, heads * hd}, -1.0f, 1.0f, 15), o = dev({l, heads * hd}, DType::F32);
  const cu::AttentionKernel which = kernel == 0 ? cu::AttentionKernel::CudnnSdpa : cu::AttentionKernel::Own;
  timed(state, [&] {
    cu::attention_with(q, k, v, heads, 1.0f / std::sqrt(float(hd)), o, ops::Precision::BF16, which,
                       kernel == 0 ? 8 : int(kernel));
  },
        4.0 * l * l * hd * heads, double(l) * heads * hd * 4 * 4);
  std::string label = std::string(cu::device_info().name) + ", " + cu::attention_kernel_name(which);
  if (kernel == 0) label += ", cuDNN " + std::to_string(cu::cudnn_runtime_version());
  state.SetLabel(label);
}

// Random bf16 q, k, v [l, width] on the device (the same draws as BM_AttentionBf16's F32 ones) and a bf16 output.
struct Bf16Attention {
  Tensor q, k, v, out;
};
Bf16Attention bf16_attention_operands(int64_t l, int64_t width) {
  return {rand_uniform({l, width}, DType::BF16, -2.0f, 2.0f, 13), rand_uniform({l, width}, DType::BF16, -2.0f, 2.0f, 14),
          rand_uniform({l, width}, DType::BF16, -1.0f, 1.0f, 15), dev({l, width}, DType::BF16)};
}

// cuDNN's SDPA alone on bf16 [L, heads*hd] buffers with bf16 output: what ops::attention costs minus its dtype
// conversions, the figure to set beside PyTorch's cuDNN SDPA on bf16 tensors (bench/gpu/torch_ref.py).
void BM_AttentionCudnnKernelBf16(benchmark::State& state) {
  int64_t l = state.range(0), heads = state.range(1), hd = state.range(2);
  cu::ArenaScope scope;
  const Bf16Attention t = bf16_attention_operands(l, heads * hd);
  const Tensor &qb = t.q, &kb = t.k, &vb = t.v, &ob = t.out;
  timed(state, [&] {
    cu::ArenaScope call;  // the plan's workspace (if any) is taken per call
    cu::cudnn_sdpa_bf16(qb.raw(), kb.raw(), vb.raw(), ob.raw(), l, l, heads, hd, 1.0f / std::sqrt(float(hd)));
  },
        4.0 * l * l * hd * heads, double(l) * heads * hd * 2 * 4);
  state.SetLabel(std::string(cu::device_info().name) + ", cuDNN " + std::to_string(cu::cudnn_runtime_version()));
}

// The int8-QK attention (attention_int8.h) on bf16 q/k/v with bf16 output, as the lean forward feeds it.
// Argument 2: 0 = the whole op (the operand preparation: k's mean, q/k quantization, v's scales and transpose,
// inside the timed region), 1 = the kernel alone on prepared operands. Argument 3: P.V in 0 = fp16, 1 = e4m3.
// FLOPs counted as bf16 attention's (4 L^2 hd per head), so the rate compares directly with cuDNN's above.
void BM_AttentionInt8Qk(benchmark::State& state) {
  int64_t l = state.range(0), heads = state.range(1), kernel_only = state.range(2), hd = 128;
  const cu::PvFormat pv = state.range(3) ? cu::PvFormat::E4M3 : cu::PvFormat::F16;
  cu::ArenaScope scope;
  const Bf16Attention t = bf16_attention_operands(l, heads * hd);
  const Tensor &qb = t.q, &kb = t.k, &vb = t.v;
  Tensor ob = t.out;
  const float scale = 1.0f / std::sqrt(float(hd));
  if (kernel_only) {
    const cu::Int8QkOperands ops = cu::prepare_int8_qk_operands(qb, kb, vb, heads, pv);
    timed(state, [&] { cu::attention_int8_qk_sm90(ops, scale, ob); }, 4.0 * l * l * hd * heads,
          double(l) * heads * hd * 5);
  } else {
    timed(state, [&] { cu::attention_int8_qk(qb, kb, vb, heads, scale, ob, pv); }, 4.0 * l * l * hd * heads,
          double(l) * heads * hd * 2 * 4);
  }
  state.SetLabel(std::string(cu::device_info().name) + (kernel_only ? ", kernel only" : ", with preparation") +
                 ", P.V " + cu::pv_format_name(pv));
}

// Wan's cross-attention (L queries, the 512 text tokens as keys) on bf16 tensors with bf16 output, as the lean
// forward runs it. Argument 3: 0 = ops::attention (its default kernel, cuDNN's SDPA at head_dim 128), 1 = the
// int8-QK op with its preparation.
void BM_CrossAttention(benchmark::State& state) {
  const int64_t lq = state.range(0), lk = state.range(1), heads = state.range(2), int8 = state.range(3), hd = 128;
  cu::ArenaScope scope;
  Tensor q = rand_uniform({lq, heads * hd}, DType::BF16, -2.0f, 2.0f, 13),
         k = rand_uniform({lk, heads * hd}, DType::BF16, -2.0f, 2.0f, 14),
         v = rand_uniform({lk, heads * hd}, DType::BF16, -1.0f, 1.0f, 15), o = dev({lq, heads * hd}, DType::BF16);
  const float scale = 1.0f / std::sqrt(float(hd));
  timed(state, [&] {
    if (int8)
      cu::attention_int8_qk(q, k, v, heads, scale, o);
    else
      ops::attention(q, k, v, heads, scale, o, ops::Precision::BF16);
  },
        4.0 * lq * lk * hd * heads, double(lq) * heads * hd * 2 * 2);
  state.SetLabel(std::string(cu::device_info().name) + (int8 ? ", int8-QK" : ", ops::attention default"));
}

void BM_CopyD2D(benchmark::State& state) {
  int64_t bytes = state.range(0);
  cu::ArenaScope scope;
  Tensor a = rand_f32({bytes / 4}, -1.0f, 1.0f, 16), b = dev({bytes / 4}, DType::F32);
  timed(state, [&] { ops::copy(a, b); }, 0, 2.0 * bytes);  // read + write
}

void gemm_shapes(benchmark::internal::Benchmark* b) {
  b->Args({32760, 5120, 5120})->Args({32760, 13824, 5120})->Args({32760, 5120, 13824})->Args({32760, 1536, 1536});
}

BENCHMARK(BM_W8A8DynamicLinear)->Apply(gemm_shapes)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(20);
BENCHMARK(BM_W8A8DynamicLinearBf16In)->Apply(gemm_shapes)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(20);
void gemm_shapes_kernels(benchmark::internal::Benchmark* b) {
  using K = cu::Int8Kernel;
  for (K kernel : {K::Mma2Blocks, K::Sm90Tile128x224, K::Sm90Tile128x224Multicast, K::Sm90Tile256x128,
                   K::Sm90Tile256x128Multicast, K::Sm90PingPong2x128x128, K::Sm90Tile256x128TmaStore})
    for (int bf16 : {0, 1}) {
      if (bf16 && kernel == K::Mma2Blocks) continue;
      for (auto [t, n, k] : {std::tuple{32760, 5120, 5120}, {32760, 13824, 5120}, {32760, 5120, 13824}, {32760, 1536, 1536}})
        b->Args({t, n, k, int64_t(kernel), bf16});
    }
}

void linear_shapes_kernels(benchmark::internal::Benchmark* b) {
  using K = cu::Int8Kernel;
  for (K kernel : {K::Sm90Tile256x128, K::Sm90PingPong2x128x128, K::Sm90Tile256x128TmaStore})
    for (auto [t, n, k] : {std::tuple{32760, 5120, 5120}, {32760, 13824, 5120}, {32760, 5120, 13824}})
      b->Args({t, n, k, int64_t(kernel)});
}
void same_data_shapes(benchmark::internal::Benchmark* b) {
  for (int normal : {0, 1})
    for (auto [t, n, k] : {std::tuple{32760, 5120, 5120}, {32760, 13824, 5120}, {32760, 5120, 13824}, {32760, 1536, 1536}})
      for (int side : {1, 0}) b->Args({t, n, k, normal, side});
}
BENCHMARK(BM_W8A8DynamicVsBf16SameData)->Apply(same_data_shapes)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(20);
BENCHMARK(BM_W8A8DynamicQuantGemm)->Apply(linear_shapes_kernels)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(20);
BENCHMARK(BM_Int8GemmOnly)->Apply(gemm_shapes_kernels)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(20);
BENCHMARK(BM_Bf16GemmCublasLt)->Apply(gemm_shapes)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(20);
BENCHMARK(BM_QuantizePerToken)->Args({32760, 5120, 0})->Args({32760, 13824, 0})->Args({32760, 5120, 1})->Args({32760, 13824, 1})->Args({32760, 1536, 1})->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(20);
BENCHMARK(BM_AttentionBf16)->Args({32760, 40, 128, 0})->Args({32760, 40, 128, 4})->Args({32760, 40, 128, 8})->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(5);
BENCHMARK(BM_AttentionCudnnKernelBf16)->Args({32760, 40, 128})->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(10);
BENCHMARK(BM_AttentionInt8Qk)->Args({32760, 40, 0, 0})->Args({32760, 40, 1, 0})->Args({32760, 40, 0, 1})->Args({32760, 40, 1, 1})->Args({32760, 12, 0, 0})->Args({32760, 12, 0, 1})->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(10);
BENCHMARK(BM_CrossAttention)->Args({32760, 512, 40, 0})->Args({32760, 512, 40, 1})->Args({32760, 512, 12, 0})->Args({32760, 512, 12, 1})->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(20);
BENCHMARK(BM_CopyD2D)->Args({int64_t(1) << 30})->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(20);

}  // namespace
}  // namespace qdit::bench

int main(int argc, char** argv) {
  if (!qdit::ops::cuda::device_available()) {
    std::fprintf(stderr, "ops_cuda_bench: no CUDA device, nothing to measure\n");
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
