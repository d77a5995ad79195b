// A one-line progress bar on stderr for long writes (layers done / total, MB/s). It draws only when stderr is a
// terminal, so logs, pipes and tests stay quiet.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace qdit::quantize {

class ProgressBar {
 public:
  // `enabled` defaults to isatty(stderr).
  ProgressBar(std::string label, int64_t total_items, bool enabled);
  ProgressBar(std::string label, int64_t total_items);
  ~ProgressBar();

  // One more item done, `bytes` of output written for it.
  void step(int64_t bytes);
  // Erases nothing: ends the line so later output starts on a fresh one.
  void finish();

  // The text of the bar for a state (exposed for tests; no terminal needed).
  static std::string render(const std::string& label, int64_t done, int64_t total, double mb_per_s, int width);

 private:
  void draw();
  std::string label_;
  int64_t total_, done_ = 0, bytes_ = 0;
  bool enabled_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace qdit::quantize
