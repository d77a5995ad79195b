// Dispatch of ops::residual_add.
#include "qdit/core/error.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/op_args.h"
#include "qdit/ops/stage_timer.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/cuda_ops.h"
#endif

namespace qdit::ops {

void residual_add(Tensor& x, const Tensor& y, const Tensor& gate) {
  StageScope stage(Stage::Pointwise, 2.0 * double(x.nbytes()) + double(y.nbytes()));  // qdit bench
  const Device device = common_device("residual_add", {{"x", &x}, {"y", &y}, {"gate", &gate}});
  const int64_t d = x.ndim() == 2 ? x.dim(1) : -1;
  const int64_t t = require_f32_matrix(x, d, "residual_add", "x");
  require_f32(y, x.shape(), "residual_add", "y");
  if (gate.defined()) require_group_table(gate, t, d, "residual_add", "gate");
  if (t == 0) return;
  if (device == Device::CPU) return cpu::residual_add(x, y, gate);
#ifdef QDIT_WITH_CUDA
  cuda::residual_add(x, y, gate);
#else
  fail_no_cuda("residual_add");
#endif
}

}  // namespace qdit::ops
