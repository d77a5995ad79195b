#include "qdit/models/wan/forward/input_prep.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "qdit/core/error.h"
#include "qdit/ops/ops.h"

namespace qdit::wan {

namespace {

[[noreturn]] void bad_input(const std::string& name, const std::string& message, std::string expected,
                            std::string found) {
  ErrorContext ctx;
  ctx.tensor = name;
  ctx.expected = std::move(expected);
  ctx.found = std::move(found);
  fail_checkpoint("input '" + name + "': " + message, ctx);
}

// Presence, dtype F32 and host residency: what every input shares.
void check_f32_host(const std::string& name, const Tensor& t) {
  if (!t.defined()) bad_input(name, "missing", "an F32 tensor", "nothing");
  if (t.dtype() != DType::F32)
    bad_input(name, "wrong dtype", "F32", std::string(dtype_name(t.dtype())));
  if (t.device() != Device::CPU) bad_input(name, "inputs must be host tensors", "CPU", "a device tensor");
}

}  // namespace

VideoGrid check_inputs(const WanConfig& c, const WanInputs& in) {
  check_f32_host("hidden_states", in.hidden_states);
  const Tensor& x = in.hidden_states;
  std::string want_x = "[" + std::to_string(c.in_channels) + ", T, H, W] with T % " + std::to_string(c.patch_t) +
                       " == 0, H % " + std::to_string(c.patch_h) + " == 0, W % " + std::to_string(c.patch_w) +
                       " == 0";
  if (x.ndim() != 4 || x.dim(0) != c.in_channels)
    bad_input("hidden_states", "wrong shape", want_x, shape_str(x.shape()));
  if (x.dim(1) <= 0 || x.dim(2) <= 0 || x.dim(3) <= 0 || x.dim(1) % c.patch_t || x.dim(2) % c.patch_h ||
      x.dim(3) % c.patch_w)
    bad_input("hidden_states", "frames/height/width do not split into whole patches", want_x,
              shape_str(x.shape()));
  VideoGrid grid{x.dim(1) / c.patch_t, x.dim(2) / c.patch_h, x.dim(3) / c.patch_w};
  // The reference's RoPE tables stop at rope_max_seq_len positions per axis; beyond it the model is undefined.
  const int64_t longest = std::max({grid.frames, grid.height, grid.width});
  if (longest > c.rope_max_seq_len)
    bad_input("hidden_states", "a post-patch axis is longer than the RoPE table",
              "at most " + std::to_string(c.rope_max_seq_len) + " patches per axis", shape_str(x.shape()));

  check_f32_host("timestep", in.timestep);
  const Tensor& t = in.timestep;
  if (t.ndim() != 1 || (t.dim(0) != 1 && t.dim(0) != grid.tokens()))
    bad_input("timestep", "wrong shape", "[1] or [" + std::to_string(grid.tokens()) + "] (one per video token)",
              shape_str(t.shape()));
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(t.data<float>()[i]))
      bad_input("timestep", "non-finite value at index " + std::to_string(i), "finite values",
                std::to_string(t.data<float>()[i]));

  check_f32_host("encoder_hidden_states", in.encoder_hidden_states);
  const Tensor& e = in.encoder_hidden_states;
  if (e.ndim() != 2 || e.dim(1) != c.text_dim || e.dim(0) > c.text_len)
    bad_input("encoder_hidden_states", "wrong shape",
              "[n, " + std::to_string(c.text_dim) + "] with n <= " + std::to_string(c.text_len),
              shape_str(e.shape()));

  if (c.has_image_branch) {
    check_f32_host("encoder_hidden_states_image", in.encoder_hidden_states_image);
    const Tensor& im = in.encoder_hidden_states_image;
    if (im.ndim() != 2 || im.dim(0) != c.image_tokens || im.dim(1) != c.image_dim)
      bad_input("encoder_hidden_states_image", "wrong shape",
                shape_str({c.image_tokens, c.image_dim}), shape_str(im.shape()));
  } else if (in.encoder_hidden_states_image.defined()) {
    bad_input("encoder_hidden_states_image", "this model has no image (CLIP) branch", "no such input",
              shape_str(in.encoder_hidden_states_image.shape()));
  }
  return grid;
}

Tensor patchify(const Tensor& latent, const WanConfig& c) {
  const int64_t K = latent.dim(0) * c.patch_t * c.patch_h * c.patch_w;
  Tensor out = Tensor::empty({latent.dim(1) / c.patch_t * (latent.dim(2) / c.patch_h) * (latent.dim(3) / c.patch_w), K},
                             DType::F32);
  ops::patchify(latent, c.patch_t, c.patch_h, c.patch_w, out);
  return out;
}

Tensor unpatchify(const Tensor& tokens, const VideoGrid& g, const WanConfig& c) {
  const int64_t pt = c.patch_t, ph = c.patch_h, pw = c.patch_w, C = c.out_channels;
  QDIT_CHECK(tokens.dim(0) == g.tokens() && tokens.dim(1) == pt * ph * pw * C,
             "unpatchify shape " + shape_str(tokens.shape()));
  Tensor out = Tensor::empty({C, g.frames * pt, g.height * ph, g.width * pw}, DType::F32);
  ops::unpatchify(tokens, g.frames, g.height, g.width, pt, ph, pw, out);
  return out;
}

Tensor pad_text(const Tensor& text, int64_t text_len) {
  const int64_t n = text.dim(0), width = text.dim(1);
  QDIT_CHECK(n <= text_len, "text longer than text_len");
  Tensor out = Tensor::zeros({text_len, width}, DType::F32);
  if (n) std::memcpy(out.raw(), text.raw(), text.nbytes());
  return out;
}

TimestepGroups group_timesteps(const Tensor& timestep, const VideoGrid& g) {
  const float* t = timestep.data<float>();
  const int64_t n = timestep.numel();
  auto all_equal = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin + 1; i < end; ++i)
      if (t[i] != t[begin]) return false;
    return true;
  };
  TimestepGroups out;
  if (all_equal(0, n)) {
    out.values = {static_cast<double>(t[0])};
    return out;
  }
  const int64_t per_frame = g.height * g.width;
  bool by_frame = true;
  for (int64_t f = 0; f < g.frames && by_frame; ++f) by_frame = all_equal(f * per_frame, (f + 1) * per_frame);
  const int64_t step = by_frame ? per_frame : 1;
  for (int64_t i = 0; i < n; i += step) out.values.push_back(static_cast<double>(t[i]));
  return out;
}

}  // namespace qdit::wan
