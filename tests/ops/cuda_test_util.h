// Shared pieces of the GPU op tests (tests/ops/*_cuda_test.cpp): the skip rule, host<->device helpers through
// the public ops::empty / ops::copy, and error measures against float64 references computed in the tests.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "qdit/core/error.h"
#include "qdit/core/half.h"
#include "qdit/core/tensor.h"
#include "qdit/ops/ops.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/arena.h"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/internal.h"
#endif

namespace qdit::test {

// Every GPU test starts with this: without a device the test is reported as SKIPPED with the reason, never as
// passed.
#ifdef QDIT_WITH_CUDA
#define QDIT_REQUIRE_GPU()                                                              \
  do {                                                                                  \
    if (!::qdit::ops::cuda::device_available())                                         \
      GTEST_SKIP() << "no CUDA device on this machine: GPU test skipped (not passed)"; \
  } while (0)
#else
#define QDIT_REQUIRE_GPU() GTEST_SKIP() << "qdit was built without the CUDA backend: GPU test skipped (not passed)"
#endif

// Releases the device memory a test allocated when the test ends (the arena is process-wide).
#ifdef QDIT_WITH_CUDA
using GpuScratch = ops::cuda::ArenaScope;
#else
struct GpuScratch {};
#endif

inline Tensor to_gpu(const Tensor& host) {
  Tensor d = ops::empty(host.shape(), host.dtype(), Device::CUDA);
  ops::copy(host, d);
  return d;
}

inline Tensor to_cpu(const Tensor& dev) {
  Tensor h = Tensor::empty(dev.shape(), dev.dtype());
  ops::copy(dev, h);
  return h;
}

// Both undefined, or the same bytes (device or host tensors): the bit-identity checks of fused vs unfused paths.
inline bool same_bytes(const Tensor& a, const Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  Tensor ha = to_cpu(a), hb = to_cpu(b);
  return ha.nbytes() == hb.nbytes() && std::memcmp(ha.raw(), hb.raw(), ha.nbytes()) == 0;
}

// A device tensor whose every byte is 0xFF (NaN for floats): an element a kernel forgets to write shows up.
inline Tensor poisoned_gpu(const Shape& shape, DType dtype) {
  Tensor h = Tensor::empty(shape, dtype);
  std::memset(h.raw(), 0xFF, h.nbytes());
  return to_gpu(h);
}

inline std::vector<double> as_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = element_as_double(t, i);
  return v;
}

// ||got - ref|| / ||ref||; infinite when any value is not finite (NaN never passes).
inline double rel_l2(const std::vector<double>& got, const std::vector<double>& ref) {
  EXPECT_EQ(got.size(), ref.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size() && i < ref.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / (den > 0 ? den : 1e-300));
}
inline double rel_l2(const Tensor& got, const std::vector<double>& ref) { return rel_l2(as_doubles(got), ref); }
inline double rel_l2(const Tensor& got, const Tensor& ref) { return rel_l2(as_doubles(got), as_doubles(ref)); }

// Values rounded to bf16 as a bf16 kernel input would carry them.
inline std::vector<double> bf16_rounded(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = round_to_bf16(t.data<float>()[i]);
  return v;
}

#ifdef QDIT_WITH_CUDA
// A device tensor converted to `to` on the device (F32 <-> BF16).
inline Tensor converted(const Tensor& dev, DType to) {
  Tensor out = ops::empty(dev.shape(), to, Device::CUDA);
  ops::cuda::convert(dev, out);
  return out;
}
#endif

}  // namespace qdit::test
