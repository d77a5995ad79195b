// The float64 LayerNorm reference the LayerNorm tests (CPU, CUDA, fused producers) share, written plainly:
// mean and variance over the row in double, then no affine, the modulation of the row's token group, or the
// affine weight and bias.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "qdit/core/tensor.h"
#include "util/test_util.h"

namespace qdit::test {

enum class LayerNormRefMode { Plain, Modulated, Affine };

// Modulated: a = shift [G, D], b = scale [G, D], token r in group r / (T / G). Affine: a = weight, b = bias [D].
inline std::vector<double> layernorm_f64(const Tensor& x, LayerNormRefMode mode, const Tensor* a, const Tensor* b,
                                         double eps) {
  const int64_t t = x.dim(0), d = x.dim(1), groups = mode == LayerNormRefMode::Modulated ? a->dim(0) : 1;
  std::vector<double> out(static_cast<size_t>(t * d));
  for (int64_t r = 0; r < t; ++r) {
    const float* row = x.data<float>() + r * d;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < d; ++i) mean += row[i];
    mean /= d;
    for (int64_t i = 0; i < d; ++i) var += (row[i] - mean) * (row[i] - mean);
    const double rstd = 1.0 / std::sqrt(var / d + eps);
    const int64_t g = r / (t / groups);
    for (int64_t i = 0; i < d; ++i) {
      double n = (row[i] - mean) * rstd;
      if (mode == LayerNormRefMode::Modulated)
        n = n * (1.0 + b->data<float>()[g * d + i]) + a->data<float>()[g * d + i];
      if (mode == LayerNormRefMode::Affine) n = n * a->data<float>()[i] + b->data<float>()[i];
      out[static_cast<size_t>(r * d + i)] = n;
    }
  }
  return out;
}

// The int mode the CUDA tests parametrise over: 0 plain, 1 modulated, 2 affine.
inline LayerNormRefMode layernorm_ref_mode(int mode) {
  return mode == 1 ? LayerNormRefMode::Modulated : mode == 2 ? LayerNormRefMode::Affine : LayerNormRefMode::Plain;
}

// A random LayerNorm problem of the GPU tests in `mode`: x [t, d] ~ N(0.5, 3^2) (a non-zero mean exercises the
// two-pass variance), then shift/scale [groups, d] ~ N(0, 0.5^2) (modulated) or weight ~ N(1, 0.3^2) and bias
// ~ N(0, 0.3^2) [d] (affine), drawn in that order from `seed`, and the float64 reference of them.
struct LayerNormCase {
  Tensor x, a, b;
  std::vector<double> ref;
};
inline LayerNormCase random_layernorm_case(int64_t t, int64_t d, int mode, int64_t groups, uint64_t seed) {
  Rng rng(seed);
  LayerNormCase c;
  c.x = random_normal_f32({t, d}, rng, 0.5, 3.0);
  if (mode == 1) {
    c.a = random_normal_f32({groups, d}, rng, 0.0, 0.5);
    c.b = random_normal_f32({groups, d}, rng, 0.0, 0.5);
  } else if (mode == 2) {
    c.a = random_normal_f32({d}, rng, 1.0, 0.3);
    c.b = random_normal_f32({d}, rng, 0.0, 0.3);
  }
  c.ref = layernorm_f64(c.x, layernorm_ref_mode(mode), &c.a, &c.b, 1e-6);
  return c;
}

}  // namespace qdit::test
