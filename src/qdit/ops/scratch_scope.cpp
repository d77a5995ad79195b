// ops::ScratchScope: the device-neutral face of the CUDA arena's mark/release (ops/cuda/arena.h).
#include "qdit/ops/ops.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/arena.h"
#endif

namespace qdit::ops {

ScratchScope::ScratchScope(Device device) : device_(device) {
#ifdef QDIT_WITH_CUDA
  if (device_ == Device::CUDA) {
    const cuda::ArenaMark m = cuda::arena_mark();
    mark_[0] = m.chunk, mark_[1] = m.offset, mark_[2] = m.in_use;
  }
#endif
}

ScratchScope::~ScratchScope() {
#ifdef QDIT_WITH_CUDA
  if (device_ == Device::CUDA) cuda::arena_release(cuda::ArenaMark{mark_[0], mark_[1], mark_[2]});
#endif
}

}  // namespace qdit::ops
