// Random device data for the GPU benchmarks, generated on the GPU (gigabytes would take long to upload).
// Never zeros: zeros hide unwritten outputs and can run faster than real data.
#pragma once
#include <cstdint>

namespace qdit::bench {

// Uniform floats in [lo, hi), deterministic in (seed, index).
void fill_uniform_f32(float* p, int64_t n, float lo, float hi, uint64_t seed);
// Normal floats of mean 0 and standard deviation `sd` (Box-Muller), deterministic in (seed, index).
void fill_normal_f32(float* p, int64_t n, float sd, uint64_t seed);
// Uniform int8 in [lo, hi].
void fill_uniform_i8(int8_t* p, int64_t n, int lo, int hi, uint64_t seed);

}  // namespace qdit::bench
