#include "qdit/bench/device_probe.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <vector>

#include "qdit/bench/random_fill.h"
#include "qdit/core/error.h"
#include "qdit/ops/ops.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/arena.h"
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/internal.h"
#include "qdit/ops/cuda/runtime.h"
#endif

namespace qdit::bench {

std::string card_id(const std::string& device_name) {
  std::istringstream words(device_name);
  std::string w;
  while (words >> w) {
    std::string id;
    for (unsigned char ch : w)
      if (std::isalnum(ch)) id += static_cast<char>(std::tolower(ch));
    if (id.empty() || id == "nvidia") continue;
    return id;
  }
  return "unknown";
}

#ifdef QDIT_WITH_CUDA

namespace {

std::string version_string(int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); }

// Times `fn` with CUDA events on qdit's stream: median of `reps` after two warm-ups.
template <class Fn>
double median_ms(int reps, Fn fn) {
  fn();
  fn();
  ops::cuda::StreamTimer timer;
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) t.push_back(timer.ms(fn));
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

DeviceFacts device_facts(Device device) {
  DeviceFacts f;
  if (device == Device::CPU) {
    f.name = f.card = "cpu";
    return f;
  }
  const ops::cuda::DeviceInfo& i = ops::cuda::device_info();
  f.name = i.name;
  f.card = card_id(f.name);
  f.cuda_runtime = version_string(i.runtime_version);
  f.cuda_driver = version_string(i.driver_version);
  f.total_memory = static_cast<int64_t>(i.total_memory);
  return f;
}

bool cuda_available() { return ops::cuda::device_available(); }

void synchronize(Device device) {
  if (device == Device::CUDA) ops::cuda::synchronize();
}

int64_t device_used_bytes() {
  size_t free_b = 0, total_b = 0;
  QDIT_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  return static_cast<int64_t>(total_b - free_b);
}

ArenaFigures arena_figures() {
  const ops::cuda::ArenaStats s = ops::cuda::arena_stats();
  return {static_cast<int64_t>(s.reserved), static_cast<int64_t>(s.peak_in_use), static_cast<int64_t>(s.fixed),
          s.device_mallocs};
}

Ceilings measure_ceilings(int64_t m, int64_t n, int64_t k, int reps) {
  Ceilings c;
  ops::cuda::ArenaScope scratch;
  {
    c.copy_bytes = int64_t(1) << 30;
    Tensor src = ops::empty({c.copy_bytes / 4}, DType::F32, Device::CUDA);
    Tensor dst = ops::empty({c.copy_bytes / 4}, DType::F32, Device::CUDA);
    fill_uniform(src, -1.0f, 1.0f, 7);
    c.copy_ms = median_ms(reps, [&] { ops::copy(src, dst); });
    c.copy_gbps = 2.0 * static_cast<double>(c.copy_bytes) / (c.copy_ms * 1e-3) / 1e9;
  }
  {
    c.m = m, c.n = n, c.k = k;
    Tensor x = ops::empty({m, k}, DType::BF16, Device::CUDA);
    Tensor w = ops::empty({n, k}, DType::BF16, Device::CUDA);
    Tensor y = ops::empty({m, n}, DType::F32, Device::CUDA);
    fill_uniform(x, -1.0f, 1.0f, 8);
    fill_uniform(w, -0.05f, 0.05f, 9);
    const Tensor none;
    c.gemm_ms = median_ms(reps, [&] { ops::cuda::gemm_lt(x, w, none, y); });
    c.gemm_tflops = 2.0 * static_cast<double>(m) * n * k / (c.gemm_ms * 1e-3) / 1e12;
  }
  ops::cuda::synchronize();
  return c;
}

#else  // no CUDA backend: the CPU has no arena and no ceilings measured here

DeviceFacts device_facts(Device device) {
  if (device == Device::CUDA) fail_usage("--device cuda: qdit was built without the CUDA backend");
  DeviceFacts f;
  f.name = f.card = "cpu";
  return f;
}

bool cuda_available() { return false; }
void synchronize(Device) {}
int64_t device_used_bytes() { return 0; }
ArenaFigures arena_figures() { return {}; }

Ceilings measure_ceilings(int64_t, int64_t, int64_t, int) {
  fail_usage("device ceilings are measured on CUDA only (qdit was built without the CUDA backend)");
}

#endif

}  // namespace qdit::bench
