// Preparation around the device-neutral forward: checking the inputs against the config, patchify, text padding,
// timestep grouping and unpatchify. patchify/unpatchify here are the host forms (tests, tools); the forward runs
// ops::patchify/unpatchify on its device (on the host they cost tens of ms per 480p forward with the GPU idle).
#pragma once
#include <cstdint>
#include <vector>

#include "qdit/core/tensor.h"
#include "qdit/models/wan/config.h"
#include "qdit/models/wan/forward/wan_model.h"

namespace qdit::wan {

// The token grid after patchify: frames x height x width, tokens in (f, h, w) raster order, w fastest.
struct VideoGrid {
  int64_t frames = 0, height = 0, width = 0;
  int64_t tokens() const { return frames * height * width; }
};

// Validates names' dtypes and shapes against the config (Checkpoint errors naming the input tensor, expected
// vs found) and returns the post-patch grid.
VideoGrid check_inputs(const WanConfig& config, const WanInputs& inputs);

// latent F32 [Cin, T, H, W] -> F32 [L, Cin*pt*ph*pw]; token (fi,hi,wi) holds
// v[((c*pt + kt)*ph + kh)*pw + kw] = x[c, fi*pt+kt, hi*ph+kh, wi*pw+kw] (the Conv3d weight's (c, kt, kh, kw) order).
Tensor patchify(const Tensor& latent, const WanConfig& config);

// tokens F32 [L, pt*ph*pw*Cout] -> F32 [Cout, T, H, W]; within a token the channel is fastest:
// index ((kt*ph + kh)*pw + kw)*Cout + c (wan-dit.md §3.6).
Tensor unpatchify(const Tensor& tokens, const VideoGrid& grid, const WanConfig& config);

// text F32 [n, text_dim] -> F32 [text_len, text_dim], rows n.. filled with zeros: the reference pads the trimmed
// umT5 output with zeros to 512 before the text MLP and attends all 512 keys (wan-dit.md §3.3).
Tensor pad_text(const Tensor& text, int64_t text_len);

// Distinct timestep groups of the video tokens: token t belongs to group t / (L / groups). One group for a
// single timestep, one per frame when the per-token timesteps only vary by frame (Wan2.2 TI2V), else one per
// token. The time MLP then runs once per group, which is exact.
struct TimestepGroups {
  std::vector<double> values;  // one timestep per group
  int64_t size() const { return static_cast<int64_t>(values.size()); }
};
TimestepGroups group_timesteps(const Tensor& timestep, const VideoGrid& grid);

}  // namespace qdit::wan
