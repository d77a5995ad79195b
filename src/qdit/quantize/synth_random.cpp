#include "qdit/quantize/synth_random.h"

#include <cmath>

#include "qdit/core/parallel.h"

namespace qdit::quantize {

namespace {

// splitmix64's finaliser: a bijective 64-bit mixer with good avalanche, enough for test weights.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t tensor_stream_seed(uint64_t user_seed, std::string_view canonical_name) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a over the name, then mixed with the seed
  for (unsigned char c : canonical_name) h = (h ^ c) * 0x100000001b3ULL;
  return mix64(h ^ mix64(user_seed + 0x9e3779b97f4a7c15ULL));
}

void fill_normal(uint64_t stream_seed, float mean, float stddev, float* out, int64_t n) {
  const int64_t pairs = (n + 1) / 2;
  parallel_for(pairs, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      // One 64-bit hash gives both uniforms of a Box-Muller pair (24 bits each, never 0 so log() stays finite;
      // |z| <= sqrt(-2 ln 2^-24) = 5.8, tails as far as any trained weight matrix reaches).
      const uint64_t h = mix64(stream_seed + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(p + 1));
      const float u1 = (static_cast<float>(h >> 40) + 1.0f) * 0x1.0p-24f;
      const float u2 = static_cast<float>((h >> 8) & 0xffffff) * 0x1.0p-24f;
      const float r = std::sqrt(-2.0f * std::log(u1));
      const float th = 6.2831853f * u2;
      out[2 * p] = mean + stddev * (r * std::cos(th));
      if (2 * p + 1 < n) out[2 * p + 1] = mean + stddev * (r * std::sin(th));
    }
  });
}

}  // namespace qdit::quantize
