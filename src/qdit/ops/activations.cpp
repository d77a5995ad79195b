// Dispatch of the in-place activations (any shape, F32).
#include "qdit/core/error.h"
#include "qdit/ops/error_context.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/op_args.h"
#include "qdit/ops/stage_timer.h"
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
  StageScope stage(Stage::Pointwise, 2.0 * double(x.nbytes()));  // qdit bench
  if (check("gelu_tanh", x) == Device::CPU) return cpu::gelu_tanh(x);
#ifdef QDIT_WITH_CUDA
  cuda::gelu_tanh(x);
#else
  fail_no_cuda("gelu_tanh");
#endif
}

void gelu_tanh(const Tensor& x, LinearInput& out) {
  StageScope stage(Stage::Pointwise, double(x.nbytes() + out.values.nbytes()));  // qdit bench
  const Device device = common_device("gelu_tanh", {{"x", &x}, {"out", &out.values}});
  // x: F32, or BF16 on CUDA (a linear's bf16 output: the FFN hidden of the lean GPU forward).
  const int64_t t = require_activation_matrix(x, -1, device, Precision::BF16, "gelu_tanh", "x");
  if (require_linear_input(out, x.dim(1), "gelu_tanh", "out") != t)
    fail_internal("gelu_tanh: output rows differ from the input rows",
                  expected_found(std::to_string(t) + " rows", shape_str(out.values.shape())));
  if (t == 0) return;
  if (device == Device::CPU) {
    // The CPU linear consumes F32 only (linear_input_spec); other forms on the CPU are a caller bug.
    if (out.spec.form != LinearInputForm::F32)
      fail_internal("gelu_tanh: the CPU backend produces linear inputs in the F32 form only",
                    expected_found("F32", out.spec.describe()));
    if (out.values.raw() != x.raw()) copy(x, out.values);
    return cpu::gelu_tanh(out.values);
  }
#ifdef QDIT_WITH_CUDA
  cuda::gelu_tanh(x, out);
#else
  fail_no_cuda("gelu_tanh");
#endif
}

void gelu_erf(Tensor& x) {
  StageScope stage(Stage::Pointwise, 2.0 * double(x.nbytes()));  // qdit bench
  if (check("gelu_erf", x) == Device::CPU) return cpu::gelu_erf(x);
#ifdef QDIT_WITH_CUDA
  cuda::gelu_erf(x);
#else
  fail_no_cuda("gelu_erf");
#endif
}

void silu(Tensor& x) {
  StageScope stage(Stage::Pointwise, 2.0 * double(x.nbytes()));  // qdit bench
  if (check("silu", x) == Device::CPU) return cpu::silu(x);
#ifdef QDIT_WITH_CUDA
  cuda::silu(x);
#else
  fail_no_cuda("silu");
#endif
}

}  // namespace qdit::ops
