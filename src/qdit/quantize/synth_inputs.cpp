#include "qdit/quantize/synth_inputs.h"

#include <utility>
#include <vector>

#include "qdit/core/error.h"
#include "qdit/io/safetensors.h"
#include "qdit/quantize/synth_random.h"

namespace qdit::quantize {

namespace {

Tensor normal(const Shape& shape, uint64_t seed, const char* name, float stddev) {
  Tensor t = Tensor::empty(shape, DType::F32);
  fill_normal(tensor_stream_seed(seed, name), 0.0f, stddev, t.data<float>(), t.numel());
  return t;
}

}  // namespace

void write_synth_inputs(const std::string& path, const wan::WanConfig& c, const SynthInputOptions& o) {
  if (o.frames <= 0 || o.height <= 0 || o.width <= 0 || o.height % c.patch_h != 0 || o.width % c.patch_w != 0) {
    ErrorContext e;
    e.expected = "positive frames and a height/width divisible by the 2x2 patch";
    e.found = std::to_string(o.frames) + "x" + std::to_string(o.height) + "x" + std::to_string(o.width);
    fail_usage("--latent does not patchify", e);
  }
  if (o.text_tokens <= 0 || o.text_tokens > c.text_len) {
    ErrorContext e;
    e.expected = "1.." + std::to_string(c.text_len);
    e.found = std::to_string(o.text_tokens);
    fail_usage("--text-tokens out of range", e);
  }
  std::vector<std::pair<std::string, Tensor>> tensors;
  tensors.emplace_back("hidden_states", normal({c.in_channels, o.frames, o.height, o.width}, o.seed, "hidden_states", 1));
  Tensor t = Tensor::empty({1}, DType::F32);
  t.data<float>()[0] = o.timestep;
  tensors.emplace_back("timestep", t);
  tensors.emplace_back("encoder_hidden_states",
                       normal({o.text_tokens, c.text_dim}, o.seed, "encoder_hidden_states", 1));
  if (c.has_image_branch)
    tensors.emplace_back("encoder_hidden_states_image",
                         normal({c.image_tokens, c.image_dim}, o.seed, "encoder_hidden_states_image", 1));
  write_safetensors(path, tensors);
}

}  // namespace qdit::quantize
