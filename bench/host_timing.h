// Host-clock helpers of the CPU benchmarks that time two implementations in alternation (same-run ratios).
#pragma once
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <string>
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

// Times qdit's implementation and oneDNN's in alternation, once each per benchmark iteration after one warm-up
// call of each (so both see the same machine state), and records the medians as `work` per second
// ("qdit_<unit>", "onednn_<unit>", scaled by 1e-12) and the ratio oneDNN time / qdit time.
template <typename Qdit, typename OneDnn>
void record_ratio_vs_onednn(benchmark::State& state, Qdit& qdit, OneDnn& onednn, double work, const std::string& unit) {
  qdit.run();
  onednn.run();
  std::vector<double> tq, to;
  for (auto _ : state) {
    tq.push_back(seconds([&] { qdit.run(); }));
    to.push_back(seconds([&] { onednn.run(); }));
  }
  state.counters["qdit_" + unit] = work / median(tq) / 1e12;
  state.counters["onednn_" + unit] = work / median(to) / 1e12;
  state.counters["ratio"] = median(to) / median(tq);
}

}  // namespace qdit::bench
