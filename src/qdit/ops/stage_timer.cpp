#include "qdit/ops/stage_timer.h"

#include <chrono>
#include <vector>

#include "qdit/core/error.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/runtime.h"
#endif

namespace qdit::ops {

namespace detail {
StageTimer* active_stage_timer = nullptr;
}

const char* stage_name(Stage s) {
  switch (s) {
    case Stage::Gemm: return "gemm";
    case Stage::Attention: return "attention";
    case Stage::Norm: return "norms";
    case Stage::Pointwise: return "pointwise";
    case Stage::Copy: return "copies";
  }
  return "?";
}

struct StageTimer::Impl {
  Device device;
  bool open = false;
  Stage open_stage = Stage::Gemm;
  StageTotals totals;
  // CPU: the host clock at begin().
  std::chrono::steady_clock::time_point started;
#ifdef QDIT_WITH_CUDA
  // CUDA: events reused across take()s; calls[i] spans events[2i] .. events[2i+1].
  std::vector<cudaEvent_t> events;
  std::vector<Stage> call_stages;
  size_t next_event = 0;

  cudaEvent_t event_at(size_t i) {
    while (events.size() <= i) {
      cudaEvent_t e;
      QDIT_CUDA_CHECK(cudaEventCreate(&e));
      events.push_back(e);
    }
    return events[i];
  }
#endif
};

StageTimer::StageTimer(Device device) : impl_(std::make_unique<Impl>()) {
  if (detail::active_stage_timer) fail_internal("StageTimer: another stage timer is already recording");
#ifndef QDIT_WITH_CUDA
  if (device == Device::CUDA) fail_usage("stage timing on CUDA: qdit was built without the CUDA backend");
#endif
  impl_->device = device;
  detail::active_stage_timer = this;
}

StageTimer::~StageTimer() {
  if (detail::active_stage_timer == this) detail::active_stage_timer = nullptr;
#ifdef QDIT_WITH_CUDA
  for (cudaEvent_t e : impl_->events) cudaEventDestroy(e);  // no throw from a destructor
#endif
}

bool StageTimer::begin(Stage s, double flops) {
  Impl& m = *impl_;
  if (m.open) return false;
  m.open = true;
  m.open_stage = s;
  const int i = static_cast<int>(s);
  m.totals.flops[i] += flops;
  ++m.totals.calls[i];
#ifdef QDIT_WITH_CUDA
  if (m.device == Device::CUDA) {
    QDIT_CUDA_CHECK(cudaEventRecord(m.event_at(m.next_event), cuda::stream()));
    ++m.next_event;
    return true;
  }
#endif
  m.started = std::chrono::steady_clock::now();
  return true;
}

void StageTimer::end() {
  Impl& m = *impl_;
  m.open = false;
#ifdef QDIT_WITH_CUDA
  if (m.device == Device::CUDA) {
    QDIT_CUDA_CHECK(cudaEventRecord(m.event_at(m.next_event), cuda::stream()));
    ++m.next_event;
    m.call_stages.push_back(m.open_stage);
    return;
  }
#endif
  m.totals.ms[static_cast<int>(m.open_stage)] +=
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - m.started).count();
}

StageTotals StageTimer::take() {
  Impl& m = *impl_;
  if (m.open) fail_internal("StageTimer::take inside an open stage");
#ifdef QDIT_WITH_CUDA
  if (m.device == Device::CUDA && !m.call_stages.empty()) {
    QDIT_CUDA_CHECK(cudaEventSynchronize(m.events[m.next_event - 1]));
    for (size_t c = 0; c < m.call_stages.size(); ++c) {
      float ms = 0.0f;
      QDIT_CUDA_CHECK(cudaEventElapsedTime(&ms, m.events[2 * c], m.events[2 * c + 1]));
      m.totals.ms[static_cast<int>(m.call_stages[c])] += ms;
    }
    m.call_stages.clear();
    m.next_event = 0;
  }
#endif
  StageTotals out = m.totals;
  m.totals = StageTotals{};
  return out;
}

}  // namespace qdit::ops
