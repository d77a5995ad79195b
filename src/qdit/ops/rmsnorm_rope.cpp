// Dispatch of ops::rmsnorm_rope.
#include "qdit/core/error.h"
#include "qdit/ops/error_context.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/op_args.h"
#include "qdit/ops/stage_timer.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/cuda_ops.h"
#endif

namespace qdit::ops {

void rmsnorm_rope(Tensor& x, const Tensor& w, float eps, int64_t heads, const Tensor& cos, const Tensor& sin) {
  rmsnorm_rope(x, w, eps, heads, cos, sin, x);
}

void rmsnorm_rope(const Tensor& x, const Tensor& w, float eps, int64_t heads, const Tensor& cos, const Tensor& sin,
                  Tensor& out) {
  StageScope stage(Stage::Norm, double(x.nbytes() + out.nbytes()));  // qdit bench
  const Device device =
      common_device("rmsnorm_rope", {{"x", &x}, {"w", &w}, {"cos", &cos}, {"sin", &sin}, {"out", &out}});
  const int64_t width = x.ndim() == 2 ? x.dim(1) : -1;
  const int64_t t = require_f32_matrix(x, width, "rmsnorm_rope", "x");
  require_f32(w, {width}, "rmsnorm_rope", "w");
  require_row_output(x, out, device, "rmsnorm_rope");
  if (!(eps >= 0.0f))
    fail_internal("rmsnorm_rope: eps must be non-negative", expected_found("eps >= 0", std::to_string(eps)));
  if (heads < 1 || width % heads != 0 || (width / heads) % 2 != 0)
    fail_internal("rmsnorm_rope: the row does not split into heads of even size",
                  expected_found("width divisible by heads with an even head_dim",
                                 "width " + std::to_string(width) + ", heads " + std::to_string(heads)));
  require_f32(cos, {t, width / heads / 2}, "rmsnorm_rope", "cos");
  require_f32(sin, {t, width / heads / 2}, "rmsnorm_rope", "sin");
  if (t == 0) return;
  if (device == Device::CPU) {  // F32 out (require_row_output)
    if (out.raw() != x.raw()) copy(x, out);
    return cpu::rmsnorm_rope(out, w, eps, heads, cos, sin);
  }
#ifdef QDIT_WITH_CUDA
  cuda::rmsnorm_rope(x, w, eps, heads, cos, sin, out);
#else
  fail_no_cuda("rmsnorm_rope");
#endif
}

}  // namespace qdit::ops
