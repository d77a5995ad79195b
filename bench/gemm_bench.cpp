// CPU GEMMs of the quantized and float linears against oneDNN, measured in the same run.
//
//   BM_Int8Gemm/<kernel>            qdit's int8 GEMM with the dynamic epilogue fused (per-token scale, per-channel
//                                   scale, bias), activations already quantized, 2048 x 1536 x 1536
//   BM_OneDnnS8S8F32/<scales>       the baseline: dnnl::matmul s8 x s8 -> f32 with per-channel output scales,
//                                   weights pre-reordered; "runtime" scales (gemm:jit, the configuration of
//                                   performance.md) and "constant" scales (lets oneDNN 2.6 pick AMX brgemm)
//   BM_Int8Ratio/<scales>           the default kernel and the baseline timed alternately in every iteration;
//                                   counter `ratio` = median baseline time / median qdit time (target >= 0.9)
//   BM_LinearW8A8Dynamic            ops::linear end to end (activation quantization included)
//   BM_FloatGemm / BM_OneDnnF32 / BM_FloatRatio   the same for the fp32 GEMM of Float layers
//
// This machine is shared: absolute figures move with the load, ratios measured in one iteration do not.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "qdit/core/tensor.h"
#include "qdit/ops/cpu/act_quant.h"
#include "qdit/ops/cpu/float_gemm.h"
#include "qdit/ops/cpu/int8_gemm.h"
#include "host_timing.h"
#include "qdit/ops/ops.h"

namespace {

using namespace qdit;
using qdit::bench::record_ratio_vs_onednn;
using namespace qdit::ops::cpu;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

constexpr int64_t kM = 2048, kN = 1536, kK = 1536;
constexpr double kOps = 2.0 * kM * kN * kK;

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  return x ^ (x >> 29);
}

struct Problem {
  std::vector<float> act_codes;  // integer codes in float, quantized to themselves with scale 1
  std::vector<int8_t> act_s8;
  Tensor weight;                 // I8 [N, K]
  std::vector<float> col_scale, bias, row_scale;
  std::vector<float> x, wf;      // fp32 GEMM operands
  Problem() {
    act_codes.resize(kM * kK);
    act_s8.resize(kM * kK);
    for (int64_t i = 0; i < kM * kK; ++i) {
      act_s8[i] = static_cast<int8_t>(mix(i) % 255 - 127);
      act_codes[i] = act_s8[i];
    }
    weight = Tensor::empty({kN, kK}, DType::I8);
    for (int64_t i = 0; i < kN * kK; ++i) weight.data<int8_t>()[i] = static_cast<int8_t>(mix(i + 77) % 255 - 127);
    for (int64_t i = 0; i < kN; ++i) {
      col_scale.push_back(1e-3f * (1 + i % 7));
      bias.push_back(0.01f * (i % 5));
    }
    for (int64_t i = 0; i < kM; ++i) row_scale.push_back(1e-2f * (1 + i % 3));
    x.resize(kM * kK);
    wf.resize(kN * kK);
    for (int64_t i = 0; i < kM * kK; ++i) x[i] = static_cast<float>(mix(i + 5) % 2001) * 1e-3f - 1.0f;
    for (int64_t i = 0; i < kN * kK; ++i) wf[i] = static_cast<float>(mix(i + 9) % 2001) * 1e-3f - 1.0f;
  }
};

const Problem& problem() {
  static const Problem p;
  return p;
}

// qdit's int8 GEMM for one kernel, activations prequantized into that kernel's layout.
struct QditInt8 {
  std::unique_ptr<Int8Gemm> gemm;
  Int8ActBuffer codes;
  std::vector<float> y;
  explicit QditInt8(Int8Kernel k) : y(kM * kN) {
    const Problem& p = problem();
    Int8GemmSpec spec;
    spec.weight = p.weight;
    spec.col_scale = p.col_scale;
    spec.bias = p.bias;
    gemm = make_int8_gemm(k, spec);
    quantize_static(p.act_codes.data(), kM, kK, 1.0f, 0.0f, int8_act_layout(k), codes);
  }
  void run() { gemm->run(codes.view(), problem().row_scale.data(), y.data()); }
};

// The oneDNN baseline: s8 x s8 -> f32 matmul, per-channel output scales, weights reordered once.
struct OneDnnS8 {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{eng};
  dnnl::matmul mm;
  dnnl::memory src, wei, dst, scales;
  bool runtime;
  std::vector<float> y;
  explicit OneDnnS8(bool runtime_scales) : runtime(runtime_scales), y(kM * kN) {
    const Problem& p = problem();
    dnnl::primitive_attr attr;
    if (runtime)
      attr.set_output_scales(2, {DNNL_RUNTIME_F32_VAL});
    else
      attr.set_output_scales(2, p.col_scale);
    const dnnl::memory::desc a({kM, kK}, dt::s8, tag::ab), b({kK, kN}, dt::s8, tag::any), c({kM, kN}, dt::f32, tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, eng);
    mm = dnnl::matmul(pd);
    src = dnnl::memory(a, eng, const_cast<int8_t*>(p.act_s8.data()));
    dnnl::memory plain({{kK, kN}, dt::s8, tag::ba}, eng, p.weight.raw());
    wei = dnnl::memory(pd.weights_desc(), eng);
    dnnl::reorder(plain, wei).execute(stream, plain, wei);
    dst = dnnl::memory(c, eng, y.data());
    scales = dnnl::memory({{kN}, dt::f32, tag::a}, eng, const_cast<float*>(p.col_scale.data()));
    stream.wait();
  }
  void run() {
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
    if (runtime) args.emplace(DNNL_ARG_ATTR_OUTPUT_SCALES, scales);
    mm.execute(stream, args);
    stream.wait();
  }
};

struct OneDnnF32 {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{eng};
  dnnl::matmul mm;
  dnnl::memory src, wei, dst;
  std::vector<float> y;
  OneDnnF32() : y(kM * kN) {
    const Problem& p = problem();
    const dnnl::memory::desc a({kM, kK}, dt::f32, tag::ab), b({kK, kN}, dt::f32, tag::any), c({kM, kN}, dt::f32, tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), eng);
    mm = dnnl::matmul(pd);
    src = dnnl::memory(a, eng, const_cast<float*>(p.x.data()));
    dnnl::memory plain({{kK, kN}, dt::f32, tag::ba}, eng, const_cast<float*>(p.wf.data()));
    wei = dnnl::memory(pd.weights_desc(), eng);
    dnnl::reorder(plain, wei).execute(stream, plain, wei);
    dst = dnnl::memory(c, eng, y.data());
    stream.wait();
  }
  void run() {
    mm.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}});
    stream.wait();
  }
};

struct QditF32 {
  Tensor w;
  std::unique_ptr<FloatGemm> gemm;
  std::vector<float> y;
  QditF32() : y(kM * kN) {
    w = Tensor::view(const_cast<float*>(problem().wf.data()), {kN, kK}, DType::F32, nullptr);
    gemm = std::make_unique<FloatGemm>(w, Tensor(), false);
  }
  void run() { gemm->run(problem().x.data(), kM, y.data()); }
};

void BM_Int8Gemm(benchmark::State& state) {
  const auto kernel = static_cast<Int8Kernel>(state.range(0));
  if (!int8_kernel_available(kernel)) return state.SkipWithError("kernel not available on this CPU");
  state.SetLabel(int8_kernel_name(kernel));
  QditInt8 q(kernel);
  q.run();
  for (auto _ : state) q.run();
  state.counters["TOP/s"] = benchmark::Counter(kOps * state.iterations() / 1e12, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Int8Gemm)
    ->Arg(static_cast<int>(Int8Kernel::Amx))
    ->Arg(static_cast<int>(Int8Kernel::Vnni))
    ->Arg(static_cast<int>(Int8Kernel::OneDnn))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_OneDnnS8S8F32(benchmark::State& state) {
  const bool runtime = state.range(0) != 0;
  state.SetLabel(runtime ? "runtime scales" : "constant scales");
  OneDnnS8 o(runtime);
  o.run();
  for (auto _ : state) o.run();
  state.counters["TOP/s"] = benchmark::Counter(kOps * state.iterations() / 1e12, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_OneDnnS8S8F32)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Int8Ratio(benchmark::State& state) {
  const bool runtime = state.range(0) != 0;
  const Int8Kernel kernel = active_int8_kernel();
  state.SetLabel(std::string(int8_kernel_name(kernel)) + " vs oneDNN " + (runtime ? "runtime" : "constant") +
                 " scales");
  QditInt8 q(kernel);
  OneDnnS8 o(runtime);
  record_ratio_vs_onednn(state, q, o, kOps, "TOP/s");
}
BENCHMARK(BM_Int8Ratio)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);

void BM_LinearW8A8Dynamic(benchmark::State& state) {
  const Problem& p = problem();
  QuantLinear l;
  l.scheme = SchemeId::W8A8Dynamic;
  l.out_features = kN;
  l.in_features = kK;
  l.weight = p.weight;
  l.weight_scale = Tensor::view(const_cast<float*>(p.col_scale.data()), {kN}, DType::F32, nullptr);
  l.bias = Tensor::view(const_cast<float*>(p.bias.data()), {kN}, DType::F32, nullptr);
  Tensor x = Tensor::view(const_cast<float*>(p.x.data()), {kM, kK}, DType::F32, nullptr);
  Tensor y = Tensor::empty({kM, kN}, DType::F32);
  state.SetLabel(int8_kernel_name(active_int8_kernel()));
  ops::linear(x, l, y, ops::Precision::FP32);
  for (auto _ : state) ops::linear(x, l, y, ops::Precision::FP32);
  state.counters["TOP/s"] = benchmark::Counter(kOps * state.iterations() / 1e12, benchmark::Counter::kIsRate);
  ops::release_prepared_linears();
}
BENCHMARK(BM_LinearW8A8Dynamic)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_FloatGemm(benchmark::State& state) {
  QditF32 q;
  q.run();
  for (auto _ : state) q.run();
  state.counters["TFLOP/s"] = benchmark::Counter(kOps * state.iterations() / 1e12, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FloatGemm)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_OneDnnF32(benchmark::State& state) {
  OneDnnF32 o;
  o.run();
  for (auto _ : state) o.run();
  state.counters["TFLOP/s"] = benchmark::Counter(kOps * state.iterations() / 1e12, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_OneDnnF32)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_FloatRatio(benchmark::State& state) {
  QditF32 q;
  OneDnnF32 o;
  record_ratio_vs_onednn(state, q, o, kOps, "TFLOP/s");
}
BENCHMARK(BM_FloatRatio)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);

}  // namespace

BENCHMARK_MAIN();
