// Throughput of the quantizer's kernels at Wan 14B layer shapes (qdit quantize streams a 14B checkpoint layer by
// layer, so these set its speed): per-channel weight quantization from bf16 and f32, the static W8A8 fold, and the
// synthetic-weight generator of qdit synth. Reported as bytes of source weights per second.
#include <benchmark/benchmark.h>

#include <vector>

#include "qdit/core/half.h"
#include "qdit/quantize/static_w8a8.h"
#include "qdit/quantize/synth_random.h"
#include "qdit/quantize/weight_quantizer.h"

namespace {

using namespace qdit;
using namespace qdit::quantize;

Tensor weight(int64_t n, int64_t k, DType dtype) {
  std::vector<float> v(static_cast<size_t>(n * k));
  fill_normal(tensor_stream_seed(1, "bench"), 0.0f, 1.0f / 64, v.data(), n * k);
  Tensor t = Tensor::empty({n, k}, dtype);
  for (int64_t i = 0; i < n * k; ++i) {
    if (dtype == DType::F32) t.data<float>()[i] = v[i];
    else t.data<uint16_t>()[i] = f32_to_bf16(v[i]);
  }
  return t;
}

// Args: N, K, dtype (0 = bf16, 1 = f32), bits (8 or 4).
void BM_QuantizeWeight(benchmark::State& state) {
  const DType dt = state.range(2) == 0 ? DType::BF16 : DType::F32;
  const Tensor w = weight(state.range(0), state.range(1), dt);
  const WeightBits bits = state.range(3) == 8 ? WeightBits::Int8 : WeightBits::Int4;
  for (auto _ : state) {
    QuantizedWeight q = quantize_weight_per_channel(w, bits);
    benchmark::DoNotOptimize(q.values.raw());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w.nbytes()));
}
BENCHMARK(BM_QuantizeWeight)
    ->ArgNames({"N", "K", "f32", "bits"})
    ->Args({5120, 5120, 0, 8})     // 14B attention projection, bf16
    ->Args({13824, 5120, 0, 8})    // 14B FFN up, bf16
    ->Args({5120, 13824, 1, 8})    // 14B FFN down, f32
    ->Args({5120, 5120, 0, 4})     // W4A4
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_FoldStaticW8A8(benchmark::State& state) {
  const Tensor w = weight(state.range(0), state.range(1), DType::BF16);
  const QuantizedWeight q = quantize_weight_per_channel(w, WeightBits::Int8);
  Tensor bias = Tensor::zeros({state.range(0)}, DType::F32);
  for (auto _ : state) {
    StaticFold f = fold_static_w8a8(q.values, q.scale, bias, {0.02f, -3.0f});
    benchmark::DoNotOptimize(f.quant_bias.raw());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(q.values.nbytes()));
}
BENCHMARK(BM_FoldStaticW8A8)->Args({13824, 5120})->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SynthNormal(benchmark::State& state) {
  std::vector<float> v(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    fill_normal(tensor_stream_seed(3, "blocks.0.ffn.net.0.proj.weight"), 0.0f, 0.01f, v.data(), state.range(0));
    benchmark::DoNotOptimize(v.data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0) * 4);
}
BENCHMARK(BM_SynthNormal)->Arg(13824 * 5120)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
