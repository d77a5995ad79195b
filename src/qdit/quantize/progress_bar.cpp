#include "qdit/quantize/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace qdit::quantize {

ProgressBar::ProgressBar(std::string label, int64_t total_items, bool enabled)
    : label_(std::move(label)), total_(total_items), enabled_(enabled), start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::ProgressBar(std::string label, int64_t total_items)
    : ProgressBar(std::move(label), total_items, isatty(STDERR_FILENO) == 1) {}

ProgressBar::~ProgressBar() { finish(); }

std::string ProgressBar::render(const std::string& label, int64_t done, int64_t total, double mb_per_s, int width) {
  const int64_t t = std::max<int64_t>(total, 1);
  const int filled = static_cast<int>(std::clamp<int64_t>(done * width / t, 0, width));
  char tail[96];
  std::snprintf(tail, sizeof tail, "] %lld/%lld layers  %.1f MB/s", static_cast<long long>(done),
                static_cast<long long>(total), mb_per_s);
  return label + " [" + std::string(filled, '#') + std::string(width - filled, '.') + tail;
}

void ProgressBar::step(int64_t bytes) {
  ++done_;
  bytes_ += bytes;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  // Redrawing more than ~10 times a second only costs time.
  if (done_ < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw();
}

void ProgressBar::draw() {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double mbs = secs > 0 ? static_cast<double>(bytes_) / 1e6 / secs : 0.0;
  std::fprintf(stderr, "\r%s", render(label_, done_, total_, mbs, 30).c_str());
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  draw();
  std::fprintf(stderr, "\n");
}

}  // namespace qdit::quantize
