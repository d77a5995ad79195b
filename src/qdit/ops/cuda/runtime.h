// Process-wide CUDA state shared by every kernel of the backend: the device, the one stream all work is queued
// on (so ordering between ops never needs events), and small launch helpers.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <functional>

namespace qdit::ops::cuda {

// The stream every qdit kernel, copy and cuBLASLt call runs on. Created on first use (device 0).
cudaStream_t stream();
// Waits for all queued work and turns any asynchronous kernel fault into a qdit::Error.
void synchronize();

struct DeviceInfo {
  int multiprocessors = 0;
  size_t shared_per_block_optin = 0;
  size_t total_memory = 0;
  char name[256] = {};
  int runtime_version = 0;
  int driver_version = 0;
};
const DeviceInfo& device_info();

// Times work on qdit's stream with a pair of CUDA events made once (the benchmarks and the ceiling probes time
// many repetitions): ms(fn) records one event, runs fn, records the other, waits for it and returns the
// milliseconds between the two.
class StreamTimer {
 public:
  StreamTimer();
  ~StreamTimer();
  StreamTimer(const StreamTimer&) = delete;
  StreamTimer& operator=(const StreamTimer&) = delete;
  float ms(const std::function<void()>& fn);

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

inline unsigned blocks_for(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 1048576 ? 1048576 : b));  // grid-stride loops cover the rest
}

}  // namespace qdit::ops::cuda
