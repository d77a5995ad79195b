// Dispatch of ops::rmsnorm.
#include "qdit/ops/error_context.h"
#include "qdit/core/error.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/op_args.h"
#include "qdit/ops/stage_timer.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/cuda_ops.h"
#endif

namespace qdit::ops {

void rmsnorm(Tensor& x, const Tensor& w, float eps) { rmsnorm(x, w, eps, x); }

void rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor& out) {
  StageScope stage(Stage::Norm, double(x.nbytes() + out.nbytes()));  // qdit bench
  const Device device = common_device("rmsnorm", {{"x", &x}, {"w", &w}, {"out", &out}});
  const int64_t d = x.ndim() == 2 ? x.dim(1) : -1;
  const int64_t t = require_f32_matrix(x, d, "rmsnorm", "x");
  require_f32(w, {d}, "rmsnorm", "w");
  require_row_output(x, out, device, "rmsnorm");
  if (!(eps >= 0.0f))
    fail_internal("rmsnorm: eps must be non-negative", expected_found("eps >= 0", std::to_string(eps)));
  if (t == 0) return;
  if (device == Device::CPU) {  // F32 out (require_row_output)
    if (out.raw() != x.raw()) copy(x, out);
    return cpu::rmsnorm(out, w, eps);
  }
#ifdef QDIT_WITH_CUDA
  cuda::rmsnorm(x, w, eps, out);
#else
  fail_no_cuda("rmsnorm");
#endif
}

}  // namespace qdit::ops
