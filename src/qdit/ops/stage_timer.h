// Time spent per kind of work (GEMMs, attention, norms, pointwise ops, copies) inside a stretch of the forward, for `qdit bench`'s per-stage
// breakdown. The ops dispatchers open a StageScope around each call; it costs one load and one branch while no
// StageTimer exists, so the forward pays nothing outside benchmarks.
//
// CUDA: a pair of events on qdit's stream around each call, summed when the timer is read (no synchronisation
// per call, so the measured forward keeps its overlap of host and device work). CPU: the host clock (CPU ops
// return when their work is done).
#pragma once
#include <array>
#include <cstdint>
#include <memory>

#include "qdit/core/tensor.h"

namespace qdit::ops {

// Gemm and Attention declare FLOPs; the memory-bound stages declare the bytes they read and write.
enum class Stage : uint8_t { Gemm = 0, Attention = 1, Norm = 2, Pointwise = 3, Copy = 4 };
inline constexpr int kStageCount = 5;
const char* stage_name(Stage s);  // "gemm", "attention", "norms", "pointwise", "copies"
inline bool stage_counts_bytes(Stage s) { return s != Stage::Gemm && s != Stage::Attention; }

struct StageTotals {
  std::array<double, kStageCount> ms{};     // time inside the stage's calls
  std::array<double, kStageCount> flops{};  // work the calls declared: 2·T·N·K per GEMM, 4·Lq·Lk·width per
                                            // attention, bytes read + written for the memory-bound stages
  std::array<int64_t, kStageCount> calls{};
};

class StageTimer {
 public:
  // Starts recording the ops that run on `device`. One timer at a time: a second is an Internal error; a CUDA
  // timer in a build without the CUDA backend is a Usage error.
  explicit StageTimer(Device device);
  ~StageTimer();
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;

  // Waits for the device and returns the totals recorded since construction or the previous take().
  StageTotals take();

  // Used by StageScope. begin() returns false (and records nothing) when a stage is already open: a nested call
  // is part of the outer one's time.
  bool begin(Stage s, double flops);
  void end();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

namespace detail {
extern StageTimer* active_stage_timer;
}

// One line in a dispatcher: `StageScope stage(Stage::Gemm, flops);`
class StageScope {
 public:
  StageScope(Stage s, double flops) : timer_(detail::active_stage_timer) {
    if (timer_ && !timer_->begin(s, flops)) timer_ = nullptr;
  }
  ~StageScope() {
    if (timer_) timer_->end();
  }
  StageScope(const StageScope&) = delete;
  StageScope& operator=(const StageScope&) = delete;

 private:
  StageTimer* timer_;
};

}  // namespace qdit::ops
