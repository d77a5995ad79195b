#include "qdit/bench/random_fill.h"

#include <string>

#include "qdit/bench/random_hash.h"
#include "qdit/core/error.h"
#include "qdit/core/half.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/bench/random_fill_cuda.h"
#endif

namespace qdit::bench {

namespace {

[[noreturn]] void bad_dtype(const Tensor& t, const char* what, const char* expected) {
  ErrorContext c;
  c.expected = expected;
  c.found = std::string(dtype_name(t.dtype()));
  fail_internal(std::string(what) + ": unsupported dtype", c);
}

}  // namespace

void fill_uniform(Tensor& t, float lo, float hi, uint64_t seed) {
  const DType d = t.dtype();
  if (d != DType::F32 && d != DType::BF16 && d != DType::F16) bad_dtype(t, "fill_uniform", "F32, BF16 or F16");
  const int64_t n = t.numel();
  if (t.device() == Device::CUDA) {
#ifdef QDIT_WITH_CUDA
    cuda::fill_uniform_float(t.raw(), n, d == DType::F32 ? 0 : d == DType::BF16 ? 1 : 2, lo, hi, seed);
    return;
#else
    fail_usage("fill_uniform on CUDA: qdit was built without the CUDA backend");
#endif
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float v = lo + (hi - lo) * unit_float(seed, static_cast<uint64_t>(i));
    if (d == DType::F32)
      t.data<float>()[i] = v;
    else
      t.data<uint16_t>()[i] = d == DType::BF16 ? f32_to_bf16(v) : f32_to_f16(v);
  }
}

void fill_uniform_int(Tensor& t, int lo, int hi, uint64_t seed) {
  const DType d = t.dtype();
  if (d != DType::I8 && d != DType::I32) bad_dtype(t, "fill_uniform_int", "I8 or I32");
  if (lo > hi || (d == DType::I8 && (lo < -128 || hi > 127)))
    fail_internal("fill_uniform_int: range " + std::to_string(lo) + ".." + std::to_string(hi) + " does not fit " +
                  std::string(dtype_name(d)));
  const int64_t n = t.numel();
  if (t.device() == Device::CUDA) {
#ifdef QDIT_WITH_CUDA
    cuda::fill_uniform_int(t.raw(), n, d == DType::I8 ? 1 : 4, lo, hi, seed);
    return;
#else
    fail_usage("fill_uniform_int on CUDA: qdit was built without the CUDA backend");
#endif
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const int v = uniform_int(seed, static_cast<uint64_t>(i), lo, hi);
    if (d == DType::I8)
      t.data<int8_t>()[i] = static_cast<int8_t>(v);
    else
      t.data<int32_t>()[i] = v;
  }
}

}  // namespace qdit::bench
