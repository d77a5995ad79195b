#include "qdit/models/wan/forward/run_inputs.h"

#include <cmath>
#include <map>

#include "qdit/core/error.h"
#include "qdit/io/safetensors.h"
#include "qdit/models/wan/forward/input_prep.h"

namespace qdit::wan {

namespace {

constexpr const char* kHidden = "hidden_states";
constexpr const char* kTimestep = "timestep";
constexpr const char* kText = "encoder_hidden_states";
constexpr const char* kImage = "encoder_hidden_states_image";

[[noreturn]] void bad(const std::string& file, const std::string& tensor, const std::string& message,
                      std::string expected, std::string found) {
  ErrorContext ctx;
  ctx.file = file;
  ctx.tensor = tensor;
  ctx.expected = std::move(expected);
  ctx.found = std::move(found);
  fail_checkpoint(message, ctx);
}

std::string describe(const TensorInfo& t) { return std::string(dtype_name(t.dtype)) + " " + shape_str(t.shape); }

// Drops a leading batch dimension of 1 (diffusers passes [1, ...]); any other batch size is not one forward.
Tensor without_batch(const Tensor& t, int expected_rank) {
  if (t.ndim() == expected_rank + 1 && t.dim(0) == 1) return t.reshape(Shape(t.shape().begin() + 1, t.shape().end()));
  return t;
}

}  // namespace

WanInputs read_run_inputs(const std::string& path, const WanConfig& c) {
  auto file = SafetensorsFile::open(path);
  std::map<std::string, const TensorInfo*> found;
  for (const TensorInfo& t : file->tensors()) {
    const bool known = t.name == kHidden || t.name == kTimestep || t.name == kText || t.name == kImage;
    if (!known)
      bad(path, t.name, "unknown input tensor",
          "only hidden_states, timestep, encoder_hidden_states" +
              std::string(c.has_image_branch ? ", encoder_hidden_states_image" : ""),
          describe(t));
    if (t.name == kImage && !c.has_image_branch)
      bad(path, t.name, "this model has no image (CLIP) branch, so it takes no image features", "no such tensor",
          describe(t));
    found[t.name] = &t;
  }
  auto need = [&](const char* name, const std::string& expected) -> const TensorInfo& {
    auto it = found.find(name);
    if (it == found.end()) bad(path, name, "required input tensor missing", expected, "nothing");
    return *it->second;
  };
  auto f32_view = [&](const TensorInfo& t, const std::string& expected) {
    if (t.dtype != DType::F32) bad(path, t.name, "wrong dtype", expected, describe(t));
    return file->view(t);
  };

  WanInputs in;
  const std::string want_x = "F32 [" + std::to_string(c.in_channels) + ", T, H, W] (or [1, " +
                             std::to_string(c.in_channels) + ", T, H, W])";
  in.hidden_states = without_batch(f32_view(need(kHidden, want_x), want_x), 4);

  const std::string want_t = "F32 or I64 [1], or [L] with one value per video token";
  const TensorInfo& ti = need(kTimestep, want_t);
  if (ti.dtype == DType::F32) {
    in.timestep = file->view(ti);
  } else if (ti.dtype == DType::I64) {
    // Timesteps are integers (truncated sigma * 1000); converting must not change any of them.
    const Tensor raw = file->view(ti);
    in.timestep = Tensor::empty(raw.shape(), DType::F32);
    for (int64_t i = 0; i < raw.numel(); ++i) {
      const int64_t v = raw.data<int64_t>()[i];
      const float f = static_cast<float>(v);
      if (static_cast<int64_t>(f) != v)
        bad(path, kTimestep, "i64 timestep not exactly representable as fp32", "|t| <= 2^24", std::to_string(v));
      in.timestep.data<float>()[i] = f;
    }
  } else {
    bad(path, kTimestep, "wrong dtype", want_t, describe(ti));
  }

  const std::string want_text = "F32 [n, " + std::to_string(c.text_dim) + "], n <= " + std::to_string(c.text_len);
  in.encoder_hidden_states = without_batch(f32_view(need(kText, want_text), want_text), 2);

  if (c.has_image_branch) {
    const std::string want_img = "F32 " + shape_str({c.image_tokens, c.image_dim});
    in.encoder_hidden_states_image = without_batch(f32_view(need(kImage, want_img), want_img), 2);
  }

  // Shapes against the config; the forward's own check, given the file name.
  try {
    check_inputs(c, in);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::Checkpoint) throw;
    ErrorContext ctx = e.context();
    ctx.file = path;
    fail_checkpoint(e.message(), ctx);
  }
  return in;
}

void write_noise_pred(const std::string& path, const Tensor& noise_pred) {
  write_safetensors(path, {{"noise_pred", noise_pred}});
}

}  // namespace qdit::wan
