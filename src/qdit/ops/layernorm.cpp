// Dispatch of ops::layernorm. `out` may be `x` itself (each row is read completely before it is written).
#include "qdit/ops/error_context.h"
#include "qdit/core/error.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/op_args.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/cuda_ops.h"
#endif

namespace qdit::ops {

void layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Modulation* mod, float eps,
               Tensor& out) {
  static const Tensor none;
  const Tensor& shift = mod ? mod->shift : none;
  const Tensor& scale = mod ? mod->scale : none;
  const Device device = common_device(
      "layernorm", {{"x", &x}, {"weight", &weight}, {"bias", &bias}, {"shift", &shift}, {"scale", &scale}, {"out", &out}});
  const int64_t d = x.ndim() == 2 ? x.dim(1) : -1;
  const int64_t t = require_f32_matrix(x, d, "layernorm", "x");
  require_f32(out, x.shape(), "layernorm", "out");
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
  if (t == 0) return;
  if (device == Device::CPU) return cpu::layernorm(x, weight, bias, mod, eps, out);
#ifdef QDIT_WITH_CUDA
  cuda::layernorm(x, weight, bias, mod, eps, out);
#else
  fail_no_cuda("layernorm");
#endif
}

}  // namespace qdit::ops
