// Portable fp32 row sums with 16 interleaved partial sums, the summation order of the AVX-512 kernels (one
// partial per lane): a single sequential fp32 sum over thousands of elements loses several digits more.
#pragma once
#include <cstdint>

namespace qdit::ops::cpu {

template <typename F>
float lane_sum(int64_t n, F term) {
  float part[16] = {};
  for (int64_t i = 0; i < n; ++i) part[i % 16] += term(i);
  for (int w = 8; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) part[i] += part[i + w];
  return part[0];
}

}  // namespace qdit::ops::cpu
