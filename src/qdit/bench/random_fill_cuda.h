// The device side of random_fill (random_fill.cu), on qdit's CUDA stream; only with the CUDA backend.
#pragma once
#include <cstdint>

namespace qdit::bench::cuda {

// kind: 0 = F32, 1 = BF16, 2 = F16 (16-bit kinds written as raw bits).
void fill_uniform_float(void* p, int64_t n, int kind, float lo, float hi, uint64_t seed);
// bytes: 1 = int8, 4 = int32.
void fill_uniform_int(void* p, int64_t n, int bytes, int lo, int hi, uint64_t seed);

}  // namespace qdit::bench::cuda
