// Dispatch of ops::rope.
#include "qdit/ops/error_context.h"
#include "qdit/core/error.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/op_args.h"
#include "qdit/ops/stage_timer.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/cuda_ops.h"
#endif

namespace qdit::ops {

void rope(Tensor& x, int64_t heads, const Tensor& cos, const Tensor& sin) {
  StageScope stage(Stage::Norm, 2.0 * double(x.nbytes()));  // qdit bench
  const Device device = common_device("rope", {{"x", &x}, {"cos", &cos}, {"sin", &sin}});
  const int64_t width = x.ndim() == 2 ? x.dim(1) : -1;
  const int64_t t = require_f32_matrix(x, width, "rope", "x");
  if (heads < 1 || width % heads != 0 || (width / heads) % 2 != 0)
    fail_internal("rope: the row does not split into heads of even size",
                  expected_found("width divisible by heads with an even head_dim",
                   "width " + std::to_string(width) + ", heads " + std::to_string(heads)));
  const int64_t half = width / heads / 2;
  require_f32(cos, {t, half}, "rope", "cos");
  require_f32(sin, {t, half}, "rope", "sin");
  if (t == 0) return;
  if (device == Device::CPU) return cpu::rope(x, heads, cos, sin);
#ifdef QDIT_WITH_CUDA
  cuda::rope(x, heads, cos, sin);
#else
  fail_no_cuda("rope");
#endif
}

}  // namespace qdit::ops
