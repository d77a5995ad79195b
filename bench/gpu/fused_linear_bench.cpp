// The linear layers of a Wan 14B block fed from their producer (issue 6: activation quantization fused into
// the LayerNorm / GELU kernel; issue 5: the 5120x5120 gap), timed with CUDA events on qdit's stream, random data
// generated on the device. Arguments: tokens T, input width K, output width N, producer (0 the modulated
// LayerNorm of q/k/v and ffn.up, 1 the GELU-tanh before ffn.down), path:
//   0 Bf16Runtime     producer -> bf16 (fused rounding) + bf16 cuBLASLt GEMM: what a bf16 runtime does
//   1 Int8Fused       producer -> int8 + per-token scale (fused) + int8 GEMM with the dequantizing epilogue
//                     (W8A8_DYNAMIC, fp32 out): what the Wan block now runs on the GPU
//   2 Int8Unfused     producer -> F32, then ops::linear(F32) with its own quantization pass: the previous path
//   3 Bf16GemmOnly    the bf16 GEMM of path 0 alone
//   4 Int8GemmOnly    the int8 GEMM of path 1 alone
//   5 ProducerBf16    the producer of path 0 alone
//   6 ProducerInt8    the producer of path 1 alone
//   7 ProducerF32     the producer writing F32 alone
// Ratios (path 0 / path 1, path 3 / path 4) are same-run, so they compare on one card.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <functional>
#include <string>

#include "gpu/bench_util.h"
#include "qdit/ops/cuda/arena.h"
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/internal.h"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/ops.h"

namespace qdit::bench {
namespace {

namespace cu = ops::cuda;

const char* kPathNames[] = {"Bf16Runtime",  "Int8Fused",    "Int8Unfused",  "Bf16GemmOnly",
                            "Int8GemmOnly", "ProducerBf16", "ProducerInt8", "ProducerF32"};

void BM_FusedLinear(benchmark::State& state) {
  const int64_t t = state.range(0), k = state.range(1), n = state.range(2), producer = state.range(3),
                path = state.range(4);
  cu::ArenaScope scope;
  // Producer input: the residual stream (LayerNorm) or the ffn.up output (GELU), with its modulation.
  Tensor x = rand_f32({t, k}, -3.0f, 3.0f, 1);
  ops::Modulation mod{rand_f32({1, k}, -0.5f, 0.5f, 2), rand_f32({1, k}, -0.5f, 0.5f, 3)};
  const Tensor none;
  auto produce = [&](ops::LinearInput& in) {
    if (producer == 0)
      ops::layernorm(x, none, none, &mod, 1e-6f, in);
    else
      ops::gelu_tanh(x, in);
  };
  // The W8A8_DYNAMIC layer and the bf16 Float layer of the same shape.
  QuantLinear q;
  q.scheme = SchemeId::W8A8Dynamic;
  q.name = "bench";
  q.out_features = n;
  q.in_features = k;
  q.weight = rand_i8({n, k}, 4);
  q.weight_scale = rand_f32({n}, 1e-4f, 1e-3f, 5);
  q.bias = rand_f32({n}, -1.0f, 1.0f, 6);
  QuantLinear f;
  f.scheme = SchemeId::Float;
  f.name = "bench";
  f.out_features = n;
  f.in_features = k;
  f.weight = dev({n, k}, DType::BF16);
  {
    cu::ArenaScope tmp;
    Tensor w32 = rand_f32({n, k}, -0.05f, 0.05f, 7);
    cu::convert(w32, f.weight);
  }
  f.bias = q.bias;
  const ops::Precision p = ops::Precision::BF16;
  ops::LinearInput in_bf16 = ops::empty_linear_input(ops::linear_input_spec(f, p, Device::CUDA), t, k, Device::CUDA);
  ops::LinearInput in_i8 = ops::empty_linear_input(ops::linear_input_spec(q, p, Device::CUDA), t, k, Device::CUDA);
  ops::LinearInput in_f32{ops::LinearInputSpec{}, dev({t, k}, DType::F32), Tensor()};
  produce(in_bf16);
  produce(in_i8);
  Tensor y = dev({t, n}, DType::F32);
  const double gemm = 2.0 * t * n * k;
  switch (path) {
    case 0: time_with_events(state, [&] { produce(in_bf16); ops::linear(in_bf16, f, y, p); }, gemm); break;
    case 1: time_with_events(state, [&] { produce(in_i8); ops::linear(in_i8, q, y, p); }, gemm); break;
    case 2: time_with_events(state, [&] { produce(in_f32); ops::linear(in_f32.values, q, y, p); }, gemm); break;
    case 3: time_with_events(state, [&] { ops::linear(in_bf16, f, y, p); }, gemm); break;
    case 4: time_with_events(state, [&] { ops::linear(in_i8, q, y, p); }, gemm); break;
    case 5: time_with_events(state, [&] { produce(in_bf16); }, 0); break;
    case 6: time_with_events(state, [&] { produce(in_i8); }, 0); break;
    case 7: time_with_events(state, [&] { produce(in_f32); }, 0); break;
  }
  cu::Int8Gemm probe;
  probe.a = in_i8.values.data<int8_t>();
  probe.b = q.weight.data<int8_t>();
  probe.m = t;
  probe.n = n;
  probe.k = k;
  state.SetLabel(std::string(cu::device_info().name) + " | " + (producer == 0 ? "layernorm" : "gelu") + " | " +
                 kPathNames[path] + " | int8 kernel " + cu::int8_gemm_kernel_name(probe));
}

void shapes(benchmark::internal::Benchmark* b) {
  // {T, K, N, producer}: q/k/v (and every 5120x5120 layer), ffn.up, ffn.down of Wan 14B at 81x720x1280.
  const int64_t s[][4] = {{32760, 5120, 5120, 0}, {32760, 5120, 13824, 0}, {32760, 13824, 5120, 1}};
  for (const auto& r : s)
    for (int64_t path = 0; path < 8; ++path) b->Args({r[0], r[1], r[2], r[3], path});
}

}  // namespace
}  // namespace qdit::bench

BENCHMARK(qdit::bench::BM_FusedLinear)->Apply(qdit::bench::shapes)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(20);

int main(int argc, char** argv) {
  if (!qdit::ops::cuda::device_available()) {
    std::fprintf(stderr, "fused_linear_bench: no CUDA device, nothing to measure\n");
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
