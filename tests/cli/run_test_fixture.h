// Fixtures of the `qdit run` tests: tiny Wan checkpoints written to disk in Diffusers names (float, or quantized
// in the repacked-Diffusers layout with a ModelSlim description), returned also as the runtime WanWeights built
// directly from the same arrays -- so the command's output can be compared with an in-process forward that
// bypasses the loader -- plus input files and a runner for the qdit binary.
#pragma once
#include <sys/wait.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "qdit/io/safetensors.h"
#include "qdit/models/wan/forward/wan_model.h"
#include "util/diffusers_config.h"
#include "util/test_util.h"

namespace qdit::runtest {

struct TinySpec {
  int64_t dim = 32, heads = 2, ffn = 48, layers = 2, in_channels = 4, out_channels = 4, text_dim = 24;
  bool quantized = false;  // block linears W8A8_DYNAMIC, blocks.0.attn1.to_out.0 static W8A8 (int64 deq_scale)
  uint64_t seed = 1;
};

inline wan::WanConfig config_of(const TinySpec& s) {
  wan::WanConfig c;
  c.variant = "custom";
  c.dim = s.dim, c.num_heads = s.heads, c.ffn_dim = s.ffn, c.num_layers = s.layers;
  c.in_channels = s.in_channels, c.out_channels = s.out_channels, c.text_dim = s.text_dim;
  return c;
}

// Accumulates the checkpoint's tensors and description entries while building the runtime layers.
class CheckpointBuilder {
 public:
  explicit CheckpointBuilder(uint64_t seed) : rng_(seed) {}

  Tensor add_param(const std::string& name, const Shape& shape, double mean, double stddev) {
    Tensor t = test::random_normal_f32(shape, rng_, mean, stddev);
    put(name, t, "FLOAT");
    return t;
  }

  // A linear layer stored under `names` (several names = shards fused along N at run time, e.g. to_q|to_k|to_v).
  // static_w8a8 only for single-shard layers.
  QuantLinear add_linear(const std::vector<std::string>& names, int64_t n, int64_t k, SchemeId scheme,
                         const Shape& weight_shape = {}) {
    const int64_t total = n * static_cast<int64_t>(names.size());
    QuantLinear l;
    l.scheme = scheme, l.out_features = total, l.in_features = k;
    l.weight = Tensor::empty({total, k}, scheme == SchemeId::Float ? DType::F32 : DType::I8);
    l.bias = Tensor::empty({total}, DType::F32);
    if (scheme != SchemeId::Float) l.weight_scale = Tensor::empty({total}, DType::F32);
    for (size_t shard = 0; shard < names.size(); ++shard) {
      const std::string& name = names[shard];
      const int64_t row0 = static_cast<int64_t>(shard) * n;
      Tensor w = test::random_normal_f32({n, k}, rng_, 0.0, 1.0 / std::sqrt(static_cast<double>(k)));
      Tensor b = test::random_normal_f32({n}, rng_, 0.0, 0.05);
      std::copy_n(b.data<float>(), n, l.bias.data<float>() + row0);
      if (scheme == SchemeId::Float) {
        std::copy_n(w.data<float>(), n * k, l.weight.data<float>() + row0 * k);
        put(name + ".weight", weight_shape.empty() ? w : w.reshape(weight_shape), "FLOAT");
        put(name + ".bias", b, "FLOAT");
        continue;
      }
      const char* type = scheme_name(scheme);
      Tensor q = Tensor::empty({n, k}, DType::I8), s = Tensor::empty({n, 1}, DType::F32);
      for (int64_t r = 0; r < n; ++r) {
        float amax = 0;
        for (int64_t c = 0; c < k; ++c) amax = std::max(amax, std::fabs(w.data<float>()[r * k + c]));
        const float scale = std::max(amax / 127.0f, FLT_EPSILON);
        s.data<float>()[r] = scale;
        for (int64_t c = 0; c < k; ++c)
          q.data<int8_t>()[r * k + c] = static_cast<int8_t>(std::nearbyint(w.data<float>()[r * k + c] / scale));
      }
      std::copy_n(q.data<int8_t>(), n * k, l.weight.data<int8_t>() + row0 * k);
      std::copy_n(s.data<float>(), n, l.weight_scale.data<float>() + row0);
      put(name + ".weight", q, type);
      put(name + ".bias", b, "FLOAT");
      if (scheme == SchemeId::W8A8Dynamic) {
        put(name + ".weight_scale", s, type);
        put(name + ".weight_offset", Tensor::zeros({n, 1}, DType::F32), type);
        continue;
      }
      // Static W8A8 as the AscendV1 saver writes it for a non-bf16 model: int64 deq_scale, bias folded.
      const float s_x = 0.05f, o_x = 3.0f;
      l.input_scale = s_x, l.input_offset = o_x;
      l.deq_scale = Tensor::empty({n}, DType::F32);
      l.quant_bias = Tensor::empty({n}, DType::I32);
      Tensor deq_bits = Tensor::empty({n}, DType::I64);
      for (int64_t r = 0; r < n; ++r) {
        const float deq = s_x * s.data<float>()[r];
        int64_t wsum = 0;
        for (int64_t c = 0; c < k; ++c) wsum += q.data<int8_t>()[r * k + c];
        l.deq_scale.data<float>()[r] = deq;
        l.quant_bias.data<int32_t>()[r] =
            static_cast<int32_t>(std::nearbyint(b.data<float>()[r] / deq - o_x * static_cast<double>(wsum)));
        int32_t bits;
        std::memcpy(&bits, &deq, 4);
        deq_bits.data<int64_t>()[r] = bits;
      }
      put(name + ".deq_scale", deq_bits, type);
      put(name + ".quant_bias", l.quant_bias, type);
      put(name + ".input_scale", test::make_tensor_f32({1}, {s_x}), type);
      put(name + ".input_offset", test::make_tensor_f32({1}, {o_x}), type);
      l.bias = Tensor();
      l.weight_scale = Tensor();
    }
    return l;
  }

  void write(const std::string& dir, const nlohmann::json& config, bool with_description) const {
    write_safetensors(dir + "/diffusion_pytorch_model.safetensors", tensors_);
    test::write_json(dir + "/config.json", config);
    if (!with_description) return;
    nlohmann::json d = description_;
    d["model_quant_type"] = "W8A8_DYNAMIC";
    d["version"] = "1.0.0";
    d["group_size"] = 0;
    test::write_json(dir + "/quant_model_description.json", d);
  }

 private:
  void put(const std::string& name, const Tensor& t, const std::string& type) {
    tensors_.emplace_back(name, t);
    description_[name] = type;
  }
  test::Rng rng_;
  std::vector<std::pair<std::string, Tensor>> tensors_;
  nlohmann::json description_ = nlohmann::json::object();
};

// Writes the component folder `dir` and returns the model it holds, built without the loader.
inline wan::WanWeights write_component(const std::string& dir, const TinySpec& s) {
  const wan::WanConfig c = config_of(s);
  const int64_t D = c.dim;
  CheckpointBuilder cb(s.seed);
  const SchemeId block_scheme = s.quantized ? SchemeId::W8A8Dynamic : SchemeId::Float;
  wan::WanWeights w;
  w.config = c;
  w.patch_embed =
      cb.add_linear({"patch_embedding"}, D, c.in_channels * 4, SchemeId::Float, {D, c.in_channels, 1, 2, 2});
  w.time_fc1 = cb.add_linear({"condition_embedder.time_embedder.linear_1"}, D, 256, SchemeId::Float);
  w.time_fc2 = cb.add_linear({"condition_embedder.time_embedder.linear_2"}, D, D, SchemeId::Float);
  w.time_proj = cb.add_linear({"condition_embedder.time_proj"}, 6 * D, D, SchemeId::Float);
  w.text_fc1 = cb.add_linear({"condition_embedder.text_embedder.linear_1"}, D, c.text_dim, SchemeId::Float);
  w.text_fc2 = cb.add_linear({"condition_embedder.text_embedder.linear_2"}, D, D, SchemeId::Float);
  w.head_modulation = cb.add_param("scale_shift_table", {1, 2, D}, 0.0, 0.2).reshape({2, D});
  w.proj_out = cb.add_linear({"proj_out"}, 4 * c.out_channels, D, SchemeId::Float);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    wan::WanBlockWeights bw;
    bw.modulation = cb.add_param(b + "scale_shift_table", {1, 6, D}, 0.0, 0.2).reshape({6, D});
    bw.self_qkv = cb.add_linear({b + "attn1.to_q", b + "attn1.to_k", b + "attn1.to_v"}, D, D, block_scheme);
    bw.self_norm_q = cb.add_param(b + "attn1.norm_q.weight", {D}, 1.0, 0.1);
    bw.self_norm_k = cb.add_param(b + "attn1.norm_k.weight", {D}, 1.0, 0.1);
    bw.self_out = cb.add_linear({b + "attn1.to_out.0"}, D, D, s.quantized && i == 0 ? SchemeId::W8A8 : block_scheme);
    bw.cross_norm_w = cb.add_param(b + "norm2.weight", {D}, 1.0, 0.1);
    bw.cross_norm_b = cb.add_param(b + "norm2.bias", {D}, 0.0, 0.1);
    bw.cross_q = cb.add_linear({b + "attn2.to_q"}, D, D, block_scheme);
    bw.cross_kv = cb.add_linear({b + "attn2.to_k", b + "attn2.to_v"}, D, D, block_scheme);
    bw.cross_norm_q = cb.add_param(b + "attn2.norm_q.weight", {D}, 1.0, 0.1);
    bw.cross_norm_k = cb.add_param(b + "attn2.norm_k.weight", {D}, 1.0, 0.1);
    bw.cross_out = cb.add_linear({b + "attn2.to_out.0"}, D, D, block_scheme);
    bw.ffn_up = cb.add_linear({b + "ffn.net.0.proj"}, c.ffn_dim, D, block_scheme);
    bw.ffn_down = cb.add_linear({b + "ffn.net.2"}, D, c.ffn_dim, block_scheme);
    w.blocks.push_back(std::move(bw));
  }
  const nlohmann::json config = test::diffusers_config_json(
      {s.dim, s.heads, s.in_channels, s.out_channels, s.text_dim, 256, s.ffn, s.layers});
  cb.write(dir, config, s.quantized);
  return w;
}

// Inputs of one forward in memory: latent [Cin, 3, 4, 6], 7 text tokens, timestep 917.
inline wan::WanInputs make_inputs(const wan::WanConfig& c, uint64_t seed) {
  test::Rng rng(seed);
  wan::WanInputs in;
  in.hidden_states = test::random_normal_f32({c.in_channels, 3, 4, 6}, rng);
  in.timestep = test::make_tensor_f32({1}, {917.0f});
  in.encoder_hidden_states = test::random_normal_f32({7, c.text_dim}, rng);
  return in;
}

inline void write_inputs(const std::string& path, const wan::WanInputs& in) {
  write_safetensors(path, {{"hidden_states", in.hidden_states},
                           {"timestep", in.timestep},
                           {"encoder_hidden_states", in.encoder_hidden_states}});
}

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

inline std::string qdit_binary() {
  const char* b = std::getenv("QDIT_BINARY");
  return b && *b ? b : "./qdit";
}

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

// Runs `qdit <args>` with stdout and stderr captured in files of `tmp`.
inline RunResult run_qdit(const test::TempDir& tmp, const std::vector<std::string>& args) {
  std::string cmd = shell_quote(qdit_binary());
  for (const std::string& a : args) cmd += " " + shell_quote(a);
  const std::string out = tmp.file("stdout.txt"), err = tmp.file("stderr.txt");
  cmd += " >" + shell_quote(out) + " 2>" + shell_quote(err) + " </dev/null";
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  r.out = test::read_text(out);
  r.err = test::read_text(err);
  return r;
}

// noise_pred of an output file, copied out of the mapping.
inline Tensor read_noise_pred(const std::string& path) {
  auto f = SafetensorsFile::open(path);
  const TensorInfo* t = f->find("noise_pred");
  if (!t || f->tensors().size() != 1) throw std::runtime_error(path + ": expected exactly one tensor, noise_pred");
  return f->view(*t).clone();
}

inline double rel_l2(const Tensor& a, const Tensor& b) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < b.numel(); ++i) {
    const double d = element_as_double(a, i) - element_as_double(b, i);
    num += d * d;
    den += element_as_double(b, i) * element_as_double(b, i);
  }
  return std::sqrt(num / den);
}

}  // namespace qdit::runtest
