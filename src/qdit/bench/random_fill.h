// Random tensor contents generated where the tensor lives: a synthetic 14B model's weights are made on the GPU
// directly, never staged through host memory. Uniform values from a counter-based hash of (seed, index), so a
// fill needs no state and the same seed gives the same tensor on every run. Never zeros: zeros hide unwritten
// data and can run faster than real data.
#pragma once
#include <cstdint>

#include "qdit/core/tensor.h"

namespace qdit::bench {

// Uniform in [lo, hi): F32, or BF16 / F16 rounded to nearest even.
void fill_uniform(Tensor& t, float lo, float hi, uint64_t seed);
// Uniform integers in [lo, hi]: I8 (lo, hi within [-128, 127]) or I32.
void fill_uniform_int(Tensor& t, int lo, int hi, uint64_t seed);

}  // namespace qdit::bench
