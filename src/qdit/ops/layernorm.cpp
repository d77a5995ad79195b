// Dispatch of ops::layernorm, into an F32 tensor or into the input form of the next linear layer. `out` may be
// `x` itself in the F32 forms (each row is read completely before it is written).
#include "qdit/ops/error_context.h"
#include "qdit/core/error.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/op_args.h"
#include "qdit/ops/stage_timer.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/cuda_ops.h"
#endif

namespace qdit::ops {

namespace {

// The argument rules shared by both outputs; returns the number of rows.
int64_t check_args(const Tensor& x, const Tensor& weight, const Tensor& bias, const Modulation* mod, float eps) {
  static const Tensor none;
  const Tensor& shift = mod ? mod->shift : none;
  const Tensor& scale = mod ? mod->scale : none;
  common_device("layernorm", {{"x", &x}, {"weight", &weight}, {"bias", &bias}, {"shift", &shift}, {"scale", &scale}});
  const int64_t d = x.ndim() == 2 ? x.dim(1) : -1;
  const int64_t t = require_f32_matrix(x, d, "layernorm", "x");
  if (weight.defined()) require_f32(weight, {d}, "layernorm", "weight");
  if (bias.defined()) {
    if (!weight.defined())
      fail_internal("layernorm: 'bias' given without 'weight'", expected_found("both or neither", "bias only"));
    require_f32(bias, {d}, "layernorm", "bias");
  }
  if (weight.defined() && (shift.defined() || scale.defined()))
    fail_internal("layernorm: both an affine weight and a modulation were given",
                  expected_found("affine weight/bias or modulation shift/scale", "both"));
  if (shift.defined()) require_group_table(shift, t, d, "layernorm", "shift");
  if (scale.defined()) require_group_table(scale, t, d, "layernorm", "scale");
  if (!(eps >= 0.0f))
    fail_internal("layernorm: eps must be non-negative", expected_found("eps >= 0", std::to_string(eps)));
  return t;
}

}  // namespace

void layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Modulation* mod, float eps,
               Tensor& out) {
  StageScope stage(Stage::Norm, double(x.nbytes() + out.nbytes()));  // qdit bench
  const int64_t t = check_args(x, weight, bias, mod, eps);
  const Device device = common_device("layernorm", {{"x", &x}, {"out", &out}});
  require_f32(out, x.shape(), "layernorm", "out");
  if (t == 0) return;
  if (device == Device::CPU) return cpu::layernorm(x, weight, bias, mod, eps, out);
#ifdef QDIT_WITH_CUDA
  cuda::layernorm(x, weight, bias, mod, eps, out);
#else
  fail_no_cuda("layernorm");
#endif
}

void layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Modulation* mod, float eps,
               LinearInput& out) {
  StageScope stage(Stage::Norm, double(x.nbytes() + out.values.nbytes()));  // qdit bench
  const int64_t t = check_args(x, weight, bias, mod, eps);
  if (require_linear_input(out, x.dim(1), "layernorm", "out") != t)
    fail_internal("layernorm: output rows differ from the input rows",
                  expected_found(std::to_string(t) + " rows", shape_str(out.values.shape())));
  const Device device = common_device("layernorm", {{"x", &x}, {"out", &out.values}});
  if (t == 0) return;
  if (device == Device::CPU) {
    // The CPU linear consumes F32 only (linear_input_spec); other forms on the CPU are a caller bug.
    if (out.spec.form != LinearInputForm::F32)
      fail_internal("layernorm: the CPU backend produces linear inputs in the F32 form only",
                    expected_found("F32", out.spec.describe()));
    return cpu::layernorm(x, weight, bias, mod, eps, out.values);
  }
#ifdef QDIT_WITH_CUDA
  cuda::layernorm(x, weight, bias, mod, eps, out);
#else
  fail_no_cuda("layernorm");
#endif
}

}  // namespace qdit::ops
