// ops::empty and ops::copy for the GPU. Uploads go through two pinned staging buffers used in turn, so a copy
// from pageable (often mmap'd) memory runs at PCIe speed and the host copy into one buffer overlaps the DMA out
// of the other.
#include <cstring>
#include <mutex>

#include "qdit/ops/cuda/arena.h"
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/validate.h"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/runtime.h"

namespace qdit::ops::cuda {

namespace {

size_t checked_bytes(const Shape& shape, DType dtype) {
  for (int64_t d : shape)
    if (d < 0) fail_internal("ops::empty on CUDA: negative dimension", err_ctx("", shape_str(shape)));
  return static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
}

}  // namespace

Tensor empty(Shape shape, DType dtype) {
  void* p = arena_alloc(checked_bytes(shape, dtype));
  return Tensor::view(p, std::move(shape), dtype, nullptr, Device::CUDA);
}

Tensor empty_persistent(Shape shape, DType dtype) {
  void* p = persistent_alloc(checked_bytes(shape, dtype));
  return Tensor::view(p, std::move(shape), dtype, nullptr, Device::CUDA);
}

namespace {

constexpr size_t kStageBytes = size_t(32) << 20;

struct Staging {
  std::mutex mu;
  void* buf[2] = {nullptr, nullptr};
  cudaEvent_t done[2] = {nullptr, nullptr};

  void init() {
    if (buf[0]) return;
    for (int i = 0; i < 2; ++i) {
      QDIT_CUDA_CHECK(cudaHostAlloc(&buf[i], kStageBytes, cudaHostAllocDefault));
      QDIT_CUDA_CHECK(cudaEventCreateWithFlags(&done[i], cudaEventDisableTiming));
      QDIT_CUDA_CHECK(cudaEventRecord(done[i], stream()));
    }
  }
};

Staging& staging() {
  static Staging s;
  return s;
}

void upload(const void* src, void* dst, size_t bytes) {
  Staging& s = staging();
  std::lock_guard<std::mutex> lock(s.mu);
  s.init();
  const char* from = static_cast<const char*>(src);
  char* to = static_cast<char*>(dst);
  int i = 0;
  for (size_t off = 0; off < bytes; off += kStageBytes, i ^= 1) {
    size_t n = std::min(kStageBytes, bytes - off);
    QDIT_CUDA_CHECK(cudaEventSynchronize(s.done[i]));  // the DMA that last read this buffer has finished
    std::memcpy(s.buf[i], from + off, n);
    QDIT_CUDA_CHECK(cudaMemcpyAsync(to + off, s.buf[i], n, cudaMemcpyHostToDevice, stream()));
    QDIT_CUDA_CHECK(cudaEventRecord(s.done[i], stream()));
  }
}

void download(const void* src, void* dst, size_t bytes) {
  Staging& s = staging();
  std::lock_guard<std::mutex> lock(s.mu);
  s.init();
  const char* from = static_cast<const char*>(src);
  char* to = static_cast<char*>(dst);
  for (size_t off = 0; off < bytes; off += kStageBytes) {
    size_t n = std::min(kStageBytes, bytes - off);
    QDIT_CUDA_CHECK(cudaMemcpyAsync(s.buf[0], from + off, n, cudaMemcpyDeviceToHost, stream()));
    QDIT_CUDA_CHECK(cudaStreamSynchronize(stream()));
    std::memcpy(to + off, s.buf[0], n);
  }
  QDIT_CUDA_CHECK(cudaEventRecord(s.done[0], stream()));
}

}  // namespace

void copy(const Tensor& src, Tensor& dst) {
  if (!src.defined() || !dst.defined()) fail_internal("ops::copy: undefined tensor");
  if (src.dtype() != dst.dtype())
    fail_internal("ops::copy: dtypes differ", err_ctx(std::string(dtype_name(dst.dtype())), std::string(dtype_name(src.dtype()))));
  if (src.shape() != dst.shape())
    fail_internal("ops::copy: shapes differ", err_ctx(shape_str(dst.shape()), shape_str(src.shape())));
  size_t bytes = src.nbytes();
  if (bytes == 0) return;
  bool from_gpu = src.device() == Device::CUDA, to_gpu = dst.device() == Device::CUDA;
  if (from_gpu && to_gpu) {
    QDIT_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), bytes, cudaMemcpyDeviceToDevice, stream()));
  } else if (to_gpu) {
    upload(src.raw(), dst.raw(), bytes);
  } else if (from_gpu) {
    download(src.raw(), dst.raw(), bytes);
  } else {
    std::memcpy(dst.raw(), src.raw(), bytes);
  }
}

}  // namespace qdit::ops::cuda
