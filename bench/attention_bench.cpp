// CPU attention: qdit's flash-style kernel (ops::attention) against an unfused oneDNN attention built from its
// primitives (per head: matmul q k^T with the scale as output scale, softmax, matmul p v), which materialises
// the Lq x Lk scores, measured in the same run. Shapes of Wan2.1-1.3B: 12 heads of 128.
//
//   BM_QditAttention/Lq/Lk, BM_OneDnnAttention/Lq/Lk   each alone
//   BM_AttentionRatio/Lq/Lk   both timed alternately per iteration; `ratio` = median oneDNN / median qdit time
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "qdit/core/tensor.h"
#include "host_timing.h"
#include "qdit/ops/ops.h"

namespace {

using namespace qdit;
using qdit::bench::record_ratio_vs_onednn;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using dims = dnnl::memory::dims;

constexpr int64_t kHeads = 12, kHeadDim = 128, kWidth = kHeads * kHeadDim;

Tensor filled(int64_t rows, uint64_t seed) {
  Tensor t = Tensor::empty({rows, kWidth}, DType::F32);
  uint64_t s = seed;
  for (int64_t i = 0; i < t.numel(); ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    t.data<float>()[i] = static_cast<float>((s >> 40) % 2001) * 1e-3f - 1.0f;
  }
  return t;
}

double flops(int64_t lq, int64_t lk) { return 4.0 * lq * lk * kWidth; }

struct Inputs {
  Tensor q, k, v, out;
  float scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));
  Inputs(int64_t lq, int64_t lk) : q(filled(lq, 1)), k(filled(lk, 2)), v(filled(lk, 3)), out(Tensor::empty({lq, kWidth}, DType::F32)) {}
};

struct QditAttention {
  Inputs& in;
  void run() { ops::attention(in.q, in.k, in.v, kHeads, in.scale, in.out, ops::Precision::FP32); }
};

struct OneDnnAttention {
  Inputs& in;
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{eng};
  dnnl::matmul qk, pv;
  dnnl::softmax_forward softmax;
  dnnl::memory::desc q_md, kt_md, s_md, v_md, o_md;
  dnnl::memory scores;
  OneDnnAttention(Inputs& inputs) : in(inputs) {
    const int64_t lq = in.q.dim(0), lk = in.k.dim(0);
    // Per-head strided views: q_h [lq, hd] and v_h / o_h [.., hd] with row stride kWidth, k_h^T [hd, lk].
    q_md = dnnl::memory::desc({lq, kHeadDim}, dt::f32, dims{kWidth, 1});
    kt_md = dnnl::memory::desc({kHeadDim, lk}, dt::f32, dims{1, kWidth});
    s_md = dnnl::memory::desc({lq, lk}, dt::f32, tag::ab);
    v_md = dnnl::memory::desc({lk, kHeadDim}, dt::f32, dims{kWidth, 1});
    o_md = dnnl::memory::desc({lq, kHeadDim}, dt::f32, dims{kWidth, 1});
    dnnl::primitive_attr scale_attr;
    scale_attr.set_output_scales(0, {in.scale});
    qk = dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(q_md, kt_md, s_md), scale_attr, eng));
    pv = dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(s_md, v_md, o_md), eng));
    softmax = dnnl::softmax_forward(dnnl::softmax_forward::primitive_desc(
        dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, s_md, 1), eng));
    scores = dnnl::memory(s_md, eng);
  }
  void run() {
    for (int64_t h = 0; h < kHeads; ++h) {
      dnnl::memory q(q_md, eng, in.q.data<float>() + h * kHeadDim);
      dnnl::memory kt(kt_md, eng, in.k.data<float>() + h * kHeadDim);
      dnnl::memory v(v_md, eng, in.v.data<float>() + h * kHeadDim);
      dnnl::memory o(o_md, eng, in.out.data<float>() + h * kHeadDim);
      qk.execute(stream, {{DNNL_ARG_SRC, q}, {DNNL_ARG_WEIGHTS, kt}, {DNNL_ARG_DST, scores}});
      softmax.execute(stream, {{DNNL_ARG_SRC, scores}, {DNNL_ARG_DST, scores}});
      pv.execute(stream, {{DNNL_ARG_SRC, scores}, {DNNL_ARG_WEIGHTS, v}, {DNNL_ARG_DST, o}});
    }
    stream.wait();
  }
};

void BM_QditAttention(benchmark::State& state) {
  Inputs in(state.range(0), state.range(1));
  QditAttention a{in};
  a.run();
  for (auto _ : state) a.run();
  state.counters["TFLOP/s"] =
      benchmark::Counter(flops(state.range(0), state.range(1)) * state.iterations() / 1e12, benchmark::Counter::kIsRate);
}

void BM_OneDnnAttention(benchmark::State& state) {
  Inputs in(state.range(0), state.range(1));
  OneDnnAttention a(in);
  a.run();
  for (auto _ : state) a.run();
  state.counters["TFLOP/s"] =
      benchmark::Counter(flops(state.range(0), state.range(1)) * state.iterations() / 1e12, benchmark::Counter::kIsRate);
}

void BM_AttentionRatio(benchmark::State& state) {
  Inputs in(state.range(0), state.range(1));
  QditAttention q{in};
  OneDnnAttention o(in);
  record_ratio_vs_onednn(state, q, o, flops(state.range(0), state.range(1)), "TFLOP/s");
}

// Self-attention at 1,560 tokens (480p-ish 1.3B latent of the block benchmark) and 4,096; cross-attention to
// the 512 text tokens.
#define QDIT_ATTENTION_SHAPES ->Args({1560, 1560})->Args({1560, 512})->Args({4096, 4096})
BENCHMARK(BM_QditAttention) QDIT_ATTENTION_SHAPES->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_OneDnnAttention) QDIT_ATTENTION_SHAPES->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AttentionRatio) QDIT_ATTENTION_SHAPES->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
