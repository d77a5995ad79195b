// A random layer of every scheme on the GPU, for the GPU op tests that compare two paths through ops::linear
// (fused_input_cuda_test.cpp, lean_io_cuda_test.cpp): weights, scales and offsets of plausible magnitudes.
#pragma once
#include "qdit/core/tensor.h"
#include "qdit/quant/linear.h"
#include "ops/cuda_test_util.h"
#include "util/test_util.h"

namespace qdit::test {

inline Tensor random_int8(const Shape& s, Rng& rng, int lo, int hi) {
  Tensor t = Tensor::empty(s, DType::I8);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<int8_t>()[i] = static_cast<int8_t>(rng.integer(lo, hi));
  return t;
}

inline QuantLinear layer_on_gpu(SchemeId scheme, int64_t n, int64_t k, Rng& rng) {
  QuantLinear w;
  w.scheme = scheme;
  w.name = "blocks.0.ffn.net.0.proj";
  w.out_features = n;
  w.in_features = k;
  switch (scheme) {
    case SchemeId::Float: w.weight = random_normal_f32({n, k}, rng, 0.0, 0.05); break;
    case SchemeId::W8A16:
      w.weight = random_int8({n, k}, rng, -127, 127);
      w.weight_scale = random_uniform_f32({n}, rng, 1e-4, 1e-3);
      w.weight_offset = random_uniform_f32({n}, rng, -3, 3);
      break;
    case SchemeId::W8A8: {
      w.weight = random_int8({n, k}, rng, -127, 127);
      w.deq_scale = random_uniform_f32({n}, rng, 1e-5, 1e-4);
      w.quant_bias = Tensor::empty({n}, DType::I32);
      for (int64_t i = 0; i < n; ++i) w.quant_bias.data<int32_t>()[i] = static_cast<int32_t>(rng.integer(-5000, 5000));
      w.input_scale = 0.03f;
      w.input_offset = -2.0f;
      break;
    }
    default:
      w.weight = scheme == SchemeId::W8A8Dynamic ? random_int8({n, k}, rng, -127, 127) : random_int8({n, k}, rng, -8, 7);
      w.weight_scale = random_uniform_f32({n}, rng, 1e-3, 1e-2);
      break;
  }
  if (scheme != SchemeId::W8A8) w.bias = random_uniform_f32({n}, rng, -1, 1);
  for (Tensor* p : {&w.weight, &w.bias, &w.weight_scale, &w.weight_offset, &w.deq_scale, &w.quant_bias})
    if (p->defined()) *p = to_gpu(*p);
  return w;
}


}  // namespace qdit::test
