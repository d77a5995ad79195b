// Threading for CPU kernels: OpenMP underneath, one process-wide thread count set by --threads.
#pragma once
#include <cstdint>
#include <functional>

namespace qdit {

void set_num_threads(int n);  // n <= 0 means "all cores"
int num_threads();

// Calls fn(begin, end) on disjoint chunks of [0, n) in parallel; chunks are at least `grain` long.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace qdit
