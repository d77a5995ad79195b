// Shared pieces of the GPU benchmarks (ops_cuda_bench, fused_linear_bench): device tensors of random data made on
// the GPU, and CUDA-event timing on qdit's stream (manual time, so host overhead between calls is not counted).
#pragma once
#include <benchmark/benchmark.h>

#include <functional>

#include "gpu/fill.h"
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/internal.h"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/ops.h"

namespace qdit::bench {

inline Tensor dev(const Shape& s, DType d) { return ops::empty(s, d, Device::CUDA); }

inline Tensor rand_f32(const Shape& s, float lo, float hi, uint64_t seed) {
  Tensor t = dev(s, DType::F32);
  fill_uniform_f32(t.data<float>(), t.numel(), lo, hi, seed);
  return t;
}

// An F32 device tensor in dtype d: itself for F32, else converted on the device (BF16: rounded to nearest even).
inline Tensor f32_as(const Tensor& f, DType d) {
  if (d == DType::F32) return f;
  Tensor t = dev(f.shape(), d);
  ops::cuda::convert(f, t);
  return t;
}

// The same uniform draws in F32 or BF16.
inline Tensor rand_uniform(const Shape& s, DType d, float lo, float hi, uint64_t seed) {
  return f32_as(rand_f32(s, lo, hi, seed), d);
}

// Normal draws (mean 0) in F32 or BF16.
inline Tensor rand_normal(const Shape& s, DType d, float sd, uint64_t seed) {
  Tensor f = dev(s, DType::F32);
  fill_normal_f32(f.data<float>(), f.numel(), sd, seed);
  return f32_as(f, d);
}

inline Tensor rand_i8(const Shape& s, uint64_t seed) {
  Tensor t = dev(s, DType::I8);
  fill_uniform_i8(t.data<int8_t>(), t.numel(), -128, 127, seed);
  return t;
}

// Runs `fn` once to warm up (heuristics, attributes, arena growth), then times each iteration with a pair of
// events; the "Tops" counter is `flop` per iteration as a rate.
inline void time_with_events(benchmark::State& state, const std::function<void()>& fn, double flop) {
  fn();
  ops::cuda::synchronize();
  ops::cuda::StreamTimer timer;
  for (auto _ : state) state.SetIterationTime(timer.ms(fn) / 1e3);
  ops::cuda::synchronize();
  state.counters["Tops"] = benchmark::Counter(flop / 1e12, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace qdit::bench
