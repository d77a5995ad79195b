// Host-clock helpers of the CPU benchmarks that time two implementations in alternation (same-run ratios).
#pragma once
#include <algorithm>
#include <chrono>
#include <vector>

namespace qdit::bench {

// Wall-clock seconds one call of f takes.
template <typename F>
double seconds(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The median of the samples (0 for none): robust to the outliers a shared 2-core machine produces.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace qdit::bench
