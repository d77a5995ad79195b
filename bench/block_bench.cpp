// One full Wan2.1-1.3B-config transformer block (D = 1536, 12 heads of 128, F = 8960) at 1,560 video tokens
// (a 5 x 24 x 52 latent) plus the 512 text tokens of cross-attention, on the CPU: every linear FLOAT vs every
// linear W8A8_DYNAMIC, fp32 and bf16 precision. Random weights; the timing does not depend on their values.
// Figures go to bench/RESULTS.md (CPU section) as ratios, this machine being shared and noisy.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>

#include "forward/scheme_quantizer.h"
#include "qdit/models/wan/forward/block.h"
#include "qdit/models/wan/forward/input_prep.h"
#include "qdit/models/wan/forward/tables.h"
#include "util/test_util.h"

namespace {

using namespace qdit;
using namespace qdit::wan;

constexpr int64_t kFrames = 5, kHeight = 12, kWidth = 26;  // post-patch grid: 1,560 tokens

WanConfig block_config() {
  WanConfig c;
  c.dim = 1536, c.num_heads = 12, c.ffn_dim = 8960, c.num_layers = 1, c.in_channels = 16, c.out_channels = 16;
  return c;
}

QuantLinear random_layer(test::Rng& rng, int64_t n, int64_t k, SchemeId s) {
  Tensor w = test::random_normal_f32({n, k}, rng, 0.0, 1.0 / std::sqrt(static_cast<double>(k)));
  return testing::quantize_linear(w, test::random_normal_f32({n}, rng, 0.0, 0.02), s);
}

WanBlockWeights random_block(const WanConfig& c, SchemeId s) {
  test::Rng rng(7);
  const int64_t D = c.dim;
  WanBlockWeights b;
  b.modulation = test::random_normal_f32({6, D}, rng, 0.0, 0.1);
  b.self_qkv = random_layer(rng, 3 * D, D, s);
  b.self_norm_q = test::random_normal_f32({D}, rng, 1.0, 0.1);
  b.self_norm_k = test::random_normal_f32({D}, rng, 1.0, 0.1);
  b.self_out = random_layer(rng, D, D, s);
  b.cross_norm_w = test::random_normal_f32({D}, rng, 1.0, 0.1);
  b.cross_norm_b = test::random_normal_f32({D}, rng, 0.0, 0.1);
  b.cross_q = random_layer(rng, D, D, s);
  b.cross_kv = random_layer(rng, 2 * D, D, s);
  b.cross_norm_q = test::random_normal_f32({D}, rng, 1.0, 0.1);
  b.cross_norm_k = test::random_normal_f32({D}, rng, 1.0, 0.1);
  b.cross_out = random_layer(rng, D, D, s);
  b.ffn_up = random_layer(rng, c.ffn_dim, D, s);
  b.ffn_down = random_layer(rng, D, c.ffn_dim, s);
  return b;
}

// FLOPs of one block: the linears (q|k|v, out, cross q and out on L tokens, cross k|v on 512, FFN) and the
// attention cores (self L x L, cross L x 512), multiply-add = 2.
double block_flops(const WanConfig& c, int64_t L) {
  const double D = static_cast<double>(c.dim), F = static_cast<double>(c.ffn_dim), Lt = 512.0, l = L;
  return 2.0 * (l * D * (6.0 * D + 2.0 * F) + Lt * 2.0 * D * D) + 4.0 * l * l * D + 4.0 * l * Lt * D;
}

void BM_WanBlock(benchmark::State& state) {
  const SchemeId scheme = static_cast<SchemeId>(state.range(0));
  const ops::Precision precision = static_cast<ops::Precision>(state.range(1));
  const WanConfig c = block_config();
  const VideoGrid grid{kFrames, kHeight, kWidth};
  const int64_t L = grid.tokens();
  const WanBlockWeights w = random_block(c, scheme);
  for (const QuantLinear* l : {&w.self_qkv, &w.self_out, &w.cross_q, &w.cross_kv, &w.cross_out, &w.ffn_up,
                               &w.ffn_down})
    ops::prepare_linear(*l, precision);

  test::Rng rng(11);
  BlockContext ctx;
  ctx.config = &c;
  ctx.precision = precision;
  const RopeTables rope = rope_tables(grid, c.head_dim());
  ctx.rope_cos = rope.cos, ctx.rope_sin = rope.sin;
  ctx.text = test::random_normal_f32({c.text_len, c.dim}, rng);
  for (auto& chunk : ctx.time_chunks) chunk = test::random_normal_f32({1, c.dim}, rng, 0.0, 0.1);
  ctx.ones = Tensor::empty({1, c.dim}, DType::F32);
  for (int64_t i = 0; i < c.dim; ++i) ctx.ones.data<float>()[i] = 1.0f;
  BlockBuffers buf = allocate_block_buffers(c, L, 1, Device::CPU, DType::F32);
  const Tensor x0 = test::random_normal_f32({L, c.dim}, rng);

  for (auto _ : state) {
    state.PauseTiming();
    std::copy_n(x0.data<float>(), x0.numel(), buf.x.data<float>());  // same input every iteration
    state.ResumeTiming();
    run_block(w, 0, ctx, buf);
    benchmark::DoNotOptimize(buf.x.raw());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(block_flops(c, L) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(scheme_name(scheme)) + (precision == ops::Precision::FP32 ? " fp32" : " bf16"));
}

// The block's two heavy parts on their own, same shapes and buffers, so RESULTS.md can split a block's time into
// linears, attention cores and the rest (norms, RoPE, modulation, GELU, residuals, activation quantization
// outside the GEMM kernels is counted with the linears).
void BM_WanBlockLinears(benchmark::State& state) {
  const SchemeId scheme = static_cast<SchemeId>(state.range(0));
  const ops::Precision p = static_cast<ops::Precision>(state.range(1));
  const WanConfig c = block_config();
  const int64_t L = VideoGrid{kFrames, kHeight, kWidth}.tokens(), D = c.dim;
  const WanBlockWeights w = random_block(c, scheme);
  test::Rng rng(13);
  const Tensor x = test::random_normal_f32({L, D}, rng), text = test::random_normal_f32({c.text_len, D}, rng);
  const Tensor h = test::random_normal_f32({L, c.ffn_dim}, rng);
  Tensor y3 = Tensor::empty({L, 3 * D}, DType::F32), y = Tensor::empty({L, D}, DType::F32);
  Tensor kv = Tensor::empty({c.text_len, 2 * D}, DType::F32), hid = Tensor::empty({L, c.ffn_dim}, DType::F32);
  for (auto _ : state) {
    ops::linear(x, w.self_qkv, y3, p);
    ops::linear(x, w.self_out, y, p);
    ops::linear(x, w.cross_q, y, p);
    ops::linear(text, w.cross_kv, kv, p);
    ops::linear(x, w.cross_out, y, p);
    ops::linear(x, w.ffn_up, hid, p);
    ops::linear(h, w.ffn_down, y, p);
  }
  const double flops = 2.0 * (static_cast<double>(L) * D * (6.0 * D + 2.0 * c.ffn_dim) + 512.0 * 2 * D * D);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(scheme_name(scheme)) + (p == ops::Precision::FP32 ? " fp32" : " bf16"));
}

void BM_WanBlockAttention(benchmark::State& state) {
  const ops::Precision p = static_cast<ops::Precision>(state.range(0));
  const WanConfig c = block_config();
  const int64_t L = VideoGrid{kFrames, kHeight, kWidth}.tokens(), D = c.dim;
  test::Rng rng(17);
  const Tensor q = test::random_normal_f32({L, D}, rng), k = test::random_normal_f32({L, D}, rng);
  const Tensor v = test::random_normal_f32({L, D}, rng);
  const Tensor tk = test::random_normal_f32({c.text_len, D}, rng), tv = test::random_normal_f32({c.text_len, D}, rng);
  Tensor out = Tensor::empty({L, D}, DType::F32);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim())));
  for (auto _ : state) {
    ops::attention(q, k, v, c.num_heads, scale, out, p);
    ops::attention(q, tk, tv, c.num_heads, scale, out, p);
  }
  const double flops = 4.0 * L * (L + 512.0) * D;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(p == ops::Precision::FP32 ? "fp32" : "bf16");
}

BENCHMARK(BM_WanBlock)
    ->Args({static_cast<int>(SchemeId::Float), static_cast<int>(ops::Precision::FP32)})
    ->Args({static_cast<int>(SchemeId::W8A8Dynamic), static_cast<int>(ops::Precision::FP32)})
    ->Args({static_cast<int>(SchemeId::Float), static_cast<int>(ops::Precision::BF16)})
    ->Args({static_cast<int>(SchemeId::W8A8Dynamic), static_cast<int>(ops::Precision::BF16)})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

BENCHMARK(BM_WanBlockLinears)
    ->Args({static_cast<int>(SchemeId::Float), static_cast<int>(ops::Precision::FP32)})
    ->Args({static_cast<int>(SchemeId::W8A8Dynamic), static_cast<int>(ops::Precision::FP32)})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

BENCHMARK(BM_WanBlockAttention)
    ->Arg(static_cast<int>(ops::Precision::FP32))
    ->Arg(static_cast<int>(ops::Precision::BF16))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
