// What `qdit bench` reads off the device it runs on: the card (for scenario ids and baselines), device memory in
// use, and the two physical ceilings the per-stage breakdown is measured against in the same run: device copy
// bandwidth and the bf16 tensor-core GEMM rate at the model's main shape.
#pragma once
#include <cstdint>
#include <string>

#include "qdit/core/tensor.h"

namespace qdit::bench {

// Short card id for scenario names: "NVIDIA H200" -> "h200", "NVIDIA H100 80GB HBM3" -> "h100"; otherwise the
// first word of the name after the vendor, lower-cased, letters and digits only ("cpu" for the CPU).
std::string card_id(const std::string& device_name);

struct DeviceFacts {
  std::string name;          // "NVIDIA H200", or "cpu"
  std::string card;          // card_id(name)
  std::string cuda_runtime;  // "13.0" (empty on the CPU)
  std::string cuda_driver;
  int64_t total_memory = 0;
};
DeviceFacts device_facts(Device device);

// True when this build has the CUDA backend and a usable GPU.
bool cuda_available();

// Waits for the device's queued work (nothing to do on the CPU).
void synchronize(Device device);

// Bytes of device memory in use by every process on the device (cudaMemGetInfo: total - free).
int64_t device_used_bytes();

struct ArenaFigures {
  int64_t reserved = 0;     // bytes the CUDA arena holds (it never gives chunks back: this is its high-water mark)
  int64_t peak_in_use = 0;  // high-water mark of bytes handed out (weights included)
  int64_t fixed = 0;        // fixed buffers outside the arena (cuBLASLt workspace)
  int64_t device_mallocs = 0;
};
ArenaFigures arena_figures();

struct Ceilings {
  double copy_gbps = 0;  // (bytes read + bytes written) / time, device to device
  double copy_ms = 0;
  int64_t copy_bytes = 0;  // size of one buffer
  double gemm_tflops = 0;  // bf16 x bf16 -> fp32 (cuBLASLt, as qdit's float linear), 2·m·n·k / time
  double gemm_ms = 0;
  int64_t m = 0, n = 0, k = 0;
};
// Median of `reps` timed repetitions after two warm-ups; random inputs made on the device. CUDA only (Usage
// error otherwise). Scratch memory is taken from the arena and given back.
Ceilings measure_ceilings(int64_t m, int64_t n, int64_t k, int reps = 10);

}  // namespace qdit::bench
