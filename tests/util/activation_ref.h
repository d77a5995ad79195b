// The float64 activation references every test shares (the CPU and GPU op tests, the fused producers, the
// whole-model reference): the formulas as written, in double.
#pragma once
#include <cmath>

namespace qdit::test {

// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): Wan's GELU (approximate="tanh").
inline double gelu_tanh_f64(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}
inline double gelu_erf_f64(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
inline double silu_f64(double x) { return x / (1.0 + std::exp(-x)); }

}  // namespace qdit::test
