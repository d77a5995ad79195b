// Deterministic normal samples for synthetic weights. Each tensor gets its own stream derived from the user's
// seed and the tensor's canonical name, so a tensor's values do not depend on write order or on the namespace
// it is written in (a native and a Diffusers synth of the same seed hold identical data), and element i depends
// only on (stream, i), so generation can be split across threads.
#pragma once
#include <cstdint>
#include <string_view>

namespace qdit::quantize {

uint64_t tensor_stream_seed(uint64_t user_seed, std::string_view canonical_name);

// out[i] = mean + stddev * z_i with z_i ~ N(0,1) (Box-Muller on a counter-based hash), for i in [0, n).
void fill_normal(uint64_t stream_seed, float mean, float stddev, float* out, int64_t n);

}  // namespace qdit::quantize
