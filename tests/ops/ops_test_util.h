// Helpers of the op tests: deterministic data, tensors from vectors, and comparison against float64 references
// with a tolerance that scales with the magnitude of the reference.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "qdit/core/tensor.h"
#include "qdit/ops/cpu/cpu_features.h"

namespace qdit::test_ops {

// splitmix64: tiny, deterministic on every platform.
class Rand {
 public:
  explicit Rand(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * static_cast<double>(next() >> 11) * 0x1.0p-53; }
  int64_t integer(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1)); }

 private:
  uint64_t s_;
};

inline Tensor uniform_f32(const Shape& shape, Rand& r, double lo = -1.0, double hi = 1.0) {
  Tensor t = Tensor::empty(shape, DType::F32);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(r.uniform(lo, hi));
  return t;
}

inline Tensor f32_tensor(const Shape& shape, const std::vector<float>& v) {
  Tensor t = Tensor::empty(shape, DType::F32);
  EXPECT_EQ(static_cast<int64_t>(v.size()), t.numel());
  for (size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = v[i];
  return t;
}

// A tensor whose every element is NaN, so an op that forgets to write an element is caught.
inline Tensor poisoned_f32(const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::F32);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = NAN;
  return t;
}

inline std::vector<double> as_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = element_as_double(t, i);
  return v;
}

// |actual - ref| <= atol + rtol * |scale_i| for every element, where scale_i is the magnitude the error is
// relative to (the reference itself unless given). Reports the worst element.
inline void expect_close(const Tensor& actual, const std::vector<double>& ref, double rtol, double atol,
                         const std::string& what, const std::vector<double>* scale = nullptr) {
  ASSERT_EQ(actual.numel(), static_cast<int64_t>(ref.size())) << what;
  double worst = 0.0;
  int64_t worst_i = -1;
  for (int64_t i = 0; i < actual.numel(); ++i) {
    const double a = element_as_double(actual, i);
    const double s = scale ? (*scale)[i] : ref[i];
    const double err = std::fabs(a - ref[i]);
    const double allowed = atol + rtol * std::fabs(s);
    if (!(err <= allowed) && (worst_i < 0 || !(err / allowed <= worst))) {
      worst = err / allowed;
      worst_i = i;
    }
  }
  if (worst_i >= 0)
    ADD_FAILURE() << what << ": element " << worst_i << " is " << element_as_double(actual, worst_i)
                  << ", reference " << ref[worst_i] << " (error " << worst << "x the tolerance)";
}

// Runs `body` with the AVX-512 kernels, then again with the portable ones (when this CPU has AVX-512 at all).
template <typename F>
void for_each_cpu_path(F body) {
  const bool vector = ops::cpu::has_avx512();
  {
    SCOPED_TRACE(vector ? "AVX-512 kernels" : "portable kernels");
    body();
  }
  if (vector) {
    struct Restore {
      ~Restore() { ops::cpu::force_portable_kernels(false); }
    } restore;
    ops::cpu::force_portable_kernels(true);
    SCOPED_TRACE("portable kernels");
    body();
  }
}

}  // namespace qdit::test_ops
