#include <cstring>

#include "qdit/ops/cpu/cpu_ops.h"

namespace qdit::ops::cpu {

Tensor empty(Shape shape, DType dtype) { return Tensor::empty(std::move(shape), dtype); }

void copy(const Tensor& src, Tensor& dst) {
  if (src.raw() != dst.raw() && src.nbytes() != 0) std::memcpy(dst.raw(), src.raw(), src.nbytes());
}

}  // namespace qdit::ops::cpu
