#include "qdit/models/wan/forward/tables.h"

#include <cmath>
#include <vector>

#include "qdit/core/error.h"
#include "qdit/ops/ops.h"

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

RopeTables rope_tables(const VideoGrid& g, int64_t head_dim, Device device) {
  QDIT_CHECK(head_dim % 2 == 0, "head_dim must be even for interleaved RoPE pairs");
  const RopeAxisDims d = rope_axis_dims(head_dim);
  const int64_t pairs = head_dim / 2, pt = d.t / 2, ph = d.h / 2;
  // Rows [0, frames) hold the frame positions' angles in pairs [0, pt), the next `height` rows the row
  // positions' in [pt, pt + ph), the last `width` rows the column positions' in the rest (zeros elsewhere).
  const int64_t rows = g.frames + g.height + g.width;
  Tensor axis_cos = Tensor::zeros({rows, pairs}, DType::F32), axis_sin = Tensor::zeros({rows, pairs}, DType::F32);
  for (int64_t r = 0; r < rows; ++r) {
    const int axis = r < g.frames ? 0 : r < g.frames + g.height ? 1 : 2;
    const int64_t pos = axis == 0 ? r : axis == 1 ? r - g.frames : r - g.frames - g.height;
    const int64_t p0 = axis == 0 ? 0 : axis == 1 ? pt : pt + ph, p1 = axis == 0 ? pt : axis == 1 ? pt + ph : pairs;
    const double denom = static_cast<double>(axis == 0 ? d.t : axis == 1 ? d.h : d.w);
    for (int64_t p = p0; p < p1; ++p) {
      const double freq = 1.0 / std::pow(10000.0, 2.0 * static_cast<double>(p - p0) / denom);
      const double theta = static_cast<double>(pos) * freq;
      axis_cos.data<float>()[r * pairs + p] = static_cast<float>(std::cos(theta));
      axis_sin.data<float>()[r * pairs + p] = static_cast<float>(std::sin(theta));
    }
  }
  RopeTables t{ops::empty({g.tokens(), pairs}, DType::F32, device), ops::empty({g.tokens(), pairs}, DType::F32, device)};
  ops::expand_axis_table(ops::on_device(axis_cos, device), g.frames, g.height, g.width, pt, pt + ph, t.cos);
  ops::expand_axis_table(ops::on_device(axis_sin, device), g.frames, g.height, g.width, pt, pt + ph, t.sin);
  return t;
}

}  // namespace qdit::wan
