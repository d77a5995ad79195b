// Dispatch of ops::attention.
#include "qdit/ops/error_context.h"
#include "qdit/core/error.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/op_args.h"
#include "qdit/ops/stage_timer.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/cuda_ops.h"
#endif

namespace qdit::ops {

void attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, float scale, Tensor& out,
               Precision p) {
  const Device device = common_device("attention", {{"q", &q}, {"k", &k}, {"v", &v}, {"out", &out}});
  const int64_t width = q.ndim() == 2 ? q.dim(1) : -1;
  const int64_t lq = require_f32_matrix(q, width, "attention", "q");
  const int64_t lk = require_f32_matrix(k, width, "attention", "k");
  require_f32(v, k.shape(), "attention", "v");
  require_f32(out, q.shape(), "attention", "out");
  if (heads < 1 || width % heads != 0)
    fail_internal("attention: the row does not split into heads",
                  expected_found("width divisible by heads",
                   "width " + std::to_string(width) + ", heads " + std::to_string(heads)));
  if (lk < 1) fail_internal("attention: no keys", expected_found("at least one key", "0"));
  if (out.raw() == q.raw() || out.raw() == k.raw() || out.raw() == v.raw())
    fail_internal("attention: out must not alias q, k or v", expected_found("distinct buffers"));
  if (lq == 0) return;
  StageScope stage(Stage::Attention, 4.0 * static_cast<double>(lq) * lk * width);  // qdit bench
  if (device == Device::CPU) return cpu::attention(q, k, v, heads, scale, out, p);
#ifdef QDIT_WITH_CUDA
  cuda::attention(q, k, v, heads, scale, out, p);
#else
  fail_no_cuda("attention");
#endif
}

}  // namespace qdit::ops
