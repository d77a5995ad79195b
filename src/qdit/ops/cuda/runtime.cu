#include "qdit/ops/cuda/runtime.h"

#include <mutex>

#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/cuda_ops.h"

namespace qdit::ops::cuda {

bool device_available() {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" state so later checks are not confused by it
    return false;
  }
  return n > 0;
}

namespace {
struct State {
  cudaStream_t stream = nullptr;
  DeviceInfo info;
};
State& state() {
  static std::once_flag once;
  static State s;
  std::call_once(once, [] {
    if (!device_available()) fail_internal("CUDA backend used but no CUDA device is available");
    QDIT_CUDA_CHECK(cudaSetDevice(0));
    QDIT_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
    cudaDeviceProp p{};
    QDIT_CUDA_CHECK(cudaGetDeviceProperties(&p, 0));
    s.info.multiprocessors = p.multiProcessorCount;
    s.info.shared_per_block_optin = p.sharedMemPerBlockOptin;
    s.info.total_memory = p.totalGlobalMem;
    snprintf(s.info.name, sizeof(s.info.name), "%s", p.name);
    QDIT_CUDA_CHECK(cudaRuntimeGetVersion(&s.info.runtime_version));
    QDIT_CUDA_CHECK(cudaDriverGetVersion(&s.info.driver_version));
  });
  return s;
}
}  // namespace

cudaStream_t stream() { return state().stream; }

void synchronize() { QDIT_CUDA_CHECK(cudaStreamSynchronize(stream())); }

const DeviceInfo& device_info() { return state().info; }

StreamTimer::StreamTimer() {
  QDIT_CUDA_CHECK(cudaEventCreate(&start_));
  QDIT_CUDA_CHECK(cudaEventCreate(&stop_));
}

StreamTimer::~StreamTimer() {
  cudaEventDestroy(start_);  // no check: a destructor must not throw
  cudaEventDestroy(stop_);
}

float StreamTimer::ms(const std::function<void()>& fn) {
  QDIT_CUDA_CHECK(cudaEventRecord(start_, stream()));
  fn();
  QDIT_CUDA_CHECK(cudaEventRecord(stop_, stream()));
  QDIT_CUDA_CHECK(cudaEventSynchronize(stop_));
  float elapsed = 0;
  QDIT_CUDA_CHECK(cudaEventElapsedTime(&elapsed, start_, stop_));
  return elapsed;
}

}  // namespace qdit::ops::cuda
