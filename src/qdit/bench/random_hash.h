// The hash behind random_fill, shared by its host and device code: splitmix64's finaliser over
// seed * golden ratio + index, so element i of a fill depends on (seed, i) alone.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define QDIT_BENCH_HD __host__ __device__
#else
#define QDIT_BENCH_HD
#endif

namespace qdit::bench {

QDIT_BENCH_HD inline uint64_t hash_index(uint64_t seed, uint64_t i) {
  uint64_t z = seed * 0x9e3779b97f4a7c15ull + i;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform in [0, 1) with 24 random bits (exact in fp32).
QDIT_BENCH_HD inline float unit_float(uint64_t seed, uint64_t i) {
  return static_cast<float>(hash_index(seed, i) >> 40) * (1.0f / 16777216.0f);
}

// Uniform integer in [lo, hi].
QDIT_BENCH_HD inline int uniform_int(uint64_t seed, uint64_t i, int lo, int hi) {
  return lo + static_cast<int>(hash_index(seed, i) % static_cast<uint64_t>(hi - lo + 1));
}

}  // namespace qdit::bench
