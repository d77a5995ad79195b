// Position and time tables of the Wan DiT, built in float64 and cast to fp32 once, as the original Wan code
// does (wan-dit.md §3.2, §3.4): the fp32 sinusoid of diffusers differs by ~4e-6 at t=999 because its arguments
// reach ~1000 rad, so double matters here.
#pragma once
#include <cstdint>
#include <vector>

#include "qdit/core/tensor.h"
#include "qdit/models/wan/forward/input_prep.h"

namespace qdit::wan {

// F32 [G, freq_dim] host tensor: row g = [cos(t_g * w_0 .. w_{half-1}) | sin(t_g * w_0 .. w_{half-1})],
// w_j = 10000^(-j / half), half = freq_dim / 2 (cos first).
Tensor timestep_sinusoid(const std::vector<double>& timesteps, int64_t freq_dim);

// Channels of one head given to each RoPE axis: t = hd - 4*(hd/6), h = w = 2*(hd/6) (44/42/42 for hd 128).
struct RopeAxisDims {
  int64_t t, h, w;
};
RopeAxisDims rope_axis_dims(int64_t head_dim);

// F32 [L, head_dim/2] tables on `device` of cos/sin(theta) for every token and interleaved pair p = (2p, 2p+1):
// pairs [0, t/2) rotate with the frame index and w = 10000^(-2p/t), the next h/2 pairs with the row index and
// their own denominator h, the last w/2 pairs with the column index and denominator w. Each (position, pair)
// angle is evaluated once per axis on the host and the token rows are assembled on the device
// (ops::expand_axis_table).
struct RopeTables {
  Tensor cos, sin;
};
RopeTables rope_tables(const VideoGrid& grid, int64_t head_dim, Device device = Device::CPU);

}  // namespace qdit::wan
