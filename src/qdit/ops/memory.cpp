// Dispatch of ops::empty / ops::empty_persistent / ops::copy by device.
#include "qdit/core/error.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/op_args.h"
#include "qdit/ops/stage_timer.h"
#include "qdit/ops/ops.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/cuda_ops.h"
#endif

namespace qdit::ops {

Tensor empty(Shape shape, DType dtype, Device device) {
  if (device == Device::CPU) return cpu::empty(std::move(shape), dtype);
#ifdef QDIT_WITH_CUDA
  return cuda::empty(std::move(shape), dtype);
#else
  fail_no_cuda("empty");
#endif
}

Tensor empty_persistent(Shape shape, DType dtype, Device device) {
  if (device == Device::CPU) return cpu::empty(std::move(shape), dtype);
#ifdef QDIT_WITH_CUDA
  return cuda::empty_persistent(std::move(shape), dtype);
#else
  fail_no_cuda("empty_persistent");
#endif
}

void copy(const Tensor& src, Tensor& dst) {
  StageScope stage(Stage::Copy, 2.0 * double(src.nbytes()));  // qdit bench
  require_defined(src, "copy", "src");
  require_defined(dst, "copy", "dst");
  require_dtype(dst, src.dtype(), "copy", "dst");
  require_shape(dst, src.shape(), "copy", "dst");
  if (src.device() == Device::CPU && dst.device() == Device::CPU) return cpu::copy(src, dst);
#ifdef QDIT_WITH_CUDA
  cuda::copy(src, dst);
#else
  fail_no_cuda("copy");
#endif
}

Tensor on_device(const Tensor& t, Device device) {
  if (t.device() == device) return t;
  Tensor out = empty(t.shape(), t.dtype(), device);
  copy(t, out);
  return out;
}

}  // namespace qdit::ops
