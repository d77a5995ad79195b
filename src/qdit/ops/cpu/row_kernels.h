// Row-level kernels shared by ops that combine them (rmsnorm_rope runs both on a row while it is in L1).
#pragma once
#include <cstdint>

namespace qdit::ops::cpu {

// x = (x * rstd) * w over one row of d values (rmsnorm.cpp).
void rmsnorm_row(float* x, const float* w, int64_t d, float eps, bool avx512);
// Interleaved-pair rotation of one token's heads x hd values with its cos/sin rows (rope.cpp).
void rope_row(float* x, const float* cos, const float* sin, int64_t heads, int64_t hd, bool avx512);

}  // namespace qdit::ops::cpu
