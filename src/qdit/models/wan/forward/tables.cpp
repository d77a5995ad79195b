#include "qdit/models/wan/forward/tables.h"

#include <cmath>
#include <vector>

#include "qdit/core/error.h"

namespace qdit::wan {

Tensor timestep_sinusoid(const std::vector<double>& timesteps, int64_t freq_dim) {
  QDIT_CHECK(freq_dim > 0 && freq_dim % 2 == 0, "freq_dim must be even");
  const int64_t half = freq_dim / 2;
  const int64_t G = static_cast<int64_t>(timesteps.size());
  Tensor out = Tensor::empty({G, freq_dim}, DType::F32);
  float* o = out.data<float>();
  for (int64_t g = 0; g < G; ++g)
    for (int64_t j = 0; j < half; ++j) {
      const double arg = timesteps[g] * std::pow(10000.0, -static_cast<double>(j) / static_cast<double>(half));
      o[g * freq_dim + j] = static_cast<float>(std::cos(arg));
      o[g * freq_dim + half + j] = static_cast<float>(std::sin(arg));
    }
  return out;
}

RopeAxisDims rope_axis_dims(int64_t head_dim) {
  const int64_t hw = 2 * (head_dim / 6);
  return {head_dim - 2 * hw, hw, hw};
}

RopeTables rope_tables(const VideoGrid& g, int64_t head_dim) {
  QDIT_CHECK(head_dim % 2 == 0, "head_dim must be even for interleaved RoPE pairs");
  const RopeAxisDims d = rope_axis_dims(head_dim);
  const int64_t pairs = head_dim / 2, pt = d.t / 2, ph = d.h / 2;
  // Per pair: which axis position it rotates with and its angular frequency.
  std::vector<int> axis(pairs);
  std::vector<double> freq(pairs);
  for (int64_t p = 0; p < pairs; ++p) {
    int64_t q = p;
    double denom = static_cast<double>(d.t);
    axis[p] = 0;
    if (p >= pt + ph) {
      q = p - pt - ph, denom = static_cast<double>(d.w), axis[p] = 2;
    } else if (p >= pt) {
      q = p - pt, denom = static_cast<double>(d.h), axis[p] = 1;
    }
    freq[p] = 1.0 / std::pow(10000.0, 2.0 * static_cast<double>(q) / denom);
  }
  // A pair's angle depends on one axis position only, so each (position, pair) is evaluated once per axis and
  // the token rows are assembled from those (the same floats as evaluating per token: 2 * 10^6 cos/sin pairs,
  // ~40 ms of host time per 480p forward, become ~10^4).
  const int64_t extent[3] = {g.frames, g.height, g.width};
  std::vector<float> axis_cos[3], axis_sin[3];  // [position * pairs + p], meaningful where axis[p] is the axis
  for (int a = 0; a < 3; ++a) {
    axis_cos[a].assign(static_cast<size_t>(extent[a] * pairs), 0.f);
    axis_sin[a].assign(static_cast<size_t>(extent[a] * pairs), 0.f);
    for (int64_t i = 0; i < extent[a]; ++i)
      for (int64_t p = 0; p < pairs; ++p)
        if (axis[p] == a) {
          const double theta = static_cast<double>(i) * freq[p];
          axis_cos[a][i * pairs + p] = static_cast<float>(std::cos(theta));
          axis_sin[a][i * pairs + p] = static_cast<float>(std::sin(theta));
        }
  }
  RopeTables t{Tensor::empty({g.tokens(), pairs}, DType::F32), Tensor::empty({g.tokens(), pairs}, DType::F32)};
  float* c = t.cos.data<float>();
  float* s = t.sin.data<float>();
  int64_t tok = 0;
  for (int64_t fi = 0; fi < g.frames; ++fi)
    for (int64_t hi = 0; hi < g.height; ++hi)
      for (int64_t wi = 0; wi < g.width; ++wi, ++tok) {
        const int64_t pos[3] = {fi, hi, wi};
        for (int64_t p = 0; p < pairs; ++p) {
          c[tok * pairs + p] = axis_cos[axis[p]][pos[axis[p]] * pairs + p];
          s[tok * pairs + p] = axis_sin[axis[p]][pos[axis[p]] * pairs + p];
        }
      }
  return t;
}

}  // namespace qdit::wan
