// Dispatch of the in-place activations (any shape, F32).
#include "qdit/core/error.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/op_args.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/cuda_ops.h"
#endif

namespace qdit::ops {

namespace {
Device check(const char* op, const Tensor& x) {
  const Device d = common_device(op, {{"x", &x}});
  require_dtype(x, DType::F32, op, "x");
  return d;
}
}  // namespace

void gelu_tanh(Tensor& x) {
  if (check("gelu_tanh", x) == Device::CPU) return cpu::gelu_tanh(x);
#ifdef QDIT_WITH_CUDA
  cuda::gelu_tanh(x);
#else
  fail_no_cuda("gelu_tanh");
#endif
}

void gelu_erf(Tensor& x) {
  if (check("gelu_erf", x) == Device::CPU) return cpu::gelu_erf(x);
#ifdef QDIT_WITH_CUDA
  cuda::gelu_erf(x);
#else
  fail_no_cuda("gelu_erf");
#endif
}

void silu(Tensor& x) {
  if (check("silu", x) == Device::CPU) return cpu::silu(x);
#ifdef QDIT_WITH_CUDA
  cuda::silu(x);
#else
  fail_no_cuda("silu");
#endif
}

}  // namespace qdit::ops
