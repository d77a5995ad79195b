// A tiny Wan DiT checkpoint built in code, in the real on-disk formats (safetensors + config.json + ModelSlim
// description), for the load and inspect tests. Everything here is written by hand from the specs
// (wan-dit.md §2, modelslim-format.md §2) and deliberately does not use qdit's schema, name rules or scheme
// declarations, so the tests check those against an independent statement of the format.
// Header-only: the test folders compile only *_test.cpp files.
#pragma once
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "qdit/core/half.h"
#include "qdit/io/safetensors.h"
#include "util/diffusers_config.h"
#include "util/test_util.h"

namespace qdit::test {

struct TinyDims {
  int64_t D = 8, F = 16, layers = 2, Cin = 4, Cout = 4, text = 8, freq = 16, heads = 2;
};

// The quantizable linears of a Wan block (loading.md §3), canonical names relative to "blocks.N.".
inline const std::vector<std::string>& block_linears() {
  static const std::vector<std::string> v = {"attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out.0",
                                             "attn2.to_q", "attn2.to_k", "attn2.to_v", "attn2.to_out.0",
                                             "ffn.net.0.proj", "ffn.net.2"};
  return v;
}

// Canonical (Diffusers) -> native Wan, by hand from wan-dit.md §2.3 (note norm2 -> norm3).
inline std::string to_native(const std::string& c) {
  static const std::vector<std::pair<std::string, std::string>> top = {
      {"condition_embedder.time_embedder.linear_1.", "time_embedding.0."},
      {"condition_embedder.time_embedder.linear_2.", "time_embedding.2."},
      {"condition_embedder.time_proj.", "time_projection.1."},
      {"condition_embedder.text_embedder.linear_1.", "text_embedding.0."},
      {"condition_embedder.text_embedder.linear_2.", "text_embedding.2."},
      {"proj_out.", "head.head."},
  };
  static const std::vector<std::pair<std::string, std::string>> block = {
      {"attn1.to_q.", "self_attn.q."},     {"attn1.to_k.", "self_attn.k."},   {"attn1.to_v.", "self_attn.v."},
      {"attn1.to_out.0.", "self_attn.o."}, {"attn1.norm_q.", "self_attn.norm_q."},
      {"attn1.norm_k.", "self_attn.norm_k."}, {"attn2.to_q.", "cross_attn.q."}, {"attn2.to_k.", "cross_attn.k."},
      {"attn2.to_v.", "cross_attn.v."},    {"attn2.to_out.0.", "cross_attn.o."},
      {"attn2.norm_q.", "cross_attn.norm_q."}, {"attn2.norm_k.", "cross_attn.norm_k."}, {"norm2.", "norm3."},
      {"ffn.net.0.proj.", "ffn.0."},       {"ffn.net.2.", "ffn.2."},
  };
  if (c == "scale_shift_table") return "head.modulation";
  for (const auto& [d, n] : top)
    if (c.rfind(d, 0) == 0) return n + c.substr(d.size());
  if (c.rfind("blocks.", 0) == 0) {
    size_t dot = c.find('.', 7);
    std::string head = c.substr(0, dot + 1), rest = c.substr(dot + 1);
    if (rest == "scale_shift_table") return head + "modulation";
    for (const auto& [d, n] : block)
      if (rest.rfind(d, 0) == 0) return head + n + rest.substr(d.size());
  }
  return c;
}

inline Tensor f32_from(const Shape& s, const std::vector<float>& v) { return make_tensor_f32(s, v); }

inline Tensor i8_tensor(const Shape& s, Rng& rng, int lo, int hi) {
  Tensor t = Tensor::empty(s, DType::I8);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<int8_t>()[i] = static_cast<int8_t>(rng.integer(lo, hi));
  return t;
}

inline Tensor scalar_f32(float v) { return make_tensor_f32({1}, {v}); }

inline Tensor to_bf16(const Tensor& f) {
  Tensor t = Tensor::empty(f.shape(), DType::BF16);
  for (int64_t i = 0; i < f.numel(); ++i) t.data<uint16_t>()[i] = f32_to_bf16(f.data<float>()[i]);
  return t;
}

// A checkpoint under construction. `tensors` and `description` use canonical names; write() renames them to
// the requested namespace.
struct TinyCheckpoint {
  TinyDims d;
  std::map<std::string, Tensor> tensors;         // canonical tensor name -> data
  std::map<std::string, std::string> description;  // canonical tensor name -> type string
  bool with_description = true;
  bool native_names = false;        // tensors in native Wan names (raw msModelSlim output)
  bool native_description = false;  // description keys in native names
  bool native_config = false;
  std::string version = "1.0.0";    // "" writes no version key
  int64_t group_size = 0;
  Rng rng{7};

  // (N, K) of every linear, canonical layer names.
  std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> linears() const {
    std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> v = {
        {"patch_embedding", {d.D, d.Cin * 4}},
        {"condition_embedder.time_embedder.linear_1", {d.D, d.freq}},
        {"condition_embedder.time_embedder.linear_2", {d.D, d.D}},
        {"condition_embedder.time_proj", {6 * d.D, d.D}},
        {"condition_embedder.text_embedder.linear_1", {d.D, d.text}},
        {"condition_embedder.text_embedder.linear_2", {d.D, d.D}},
        {"proj_out", {4 * d.Cout, d.D}},
    };
    for (int64_t b = 0; b < d.layers; ++b)
      for (const auto& l : block_linears()) {
        const std::string name = "blocks." + std::to_string(b) + "." + l;
        int64_t n = d.D, k = d.D;
        if (l == "ffn.net.0.proj") n = d.F;
        if (l == "ffn.net.2") k = d.F;
        v.push_back({name, {n, k}});
      }
    return v;
  }

  // The whole float model, every layer FLOAT in the description.
  void build_float() {
    for (const auto& [name, nk] : linears()) set_float_linear(name, nk.first, nk.second);
    tensors["patch_embedding.weight"] = random_uniform_f32({d.D, d.Cin, 1, 2, 2}, rng);
    set_param("scale_shift_table", {1, 2, d.D});
    for (int64_t b = 0; b < d.layers; ++b) {
      const std::string p = "blocks." + std::to_string(b) + ".";
      set_param(p + "scale_shift_table", {1, 6, d.D});
      for (const char* n : {"attn1.norm_q.weight", "attn1.norm_k.weight", "norm2.weight", "norm2.bias",
                            "attn2.norm_q.weight", "attn2.norm_k.weight"})
        set_param(p + n, {d.D});
    }
  }

  void set_param(const std::string& name, const Shape& s) {
    tensors[name] = random_uniform_f32(s, rng);
    description[name] = "FLOAT";
  }

  void clear_layer(const std::string& layer) {
    for (auto it = tensors.begin(); it != tensors.end();)
      it = it->first.rfind(layer + ".", 0) == 0 ? tensors.erase(it) : std::next(it);
    for (auto it = description.begin(); it != description.end();)
      it = it->first.rfind(layer + ".", 0) == 0 ? description.erase(it) : std::next(it);
  }

  void put(const std::string& layer, const std::string& suffix, Tensor t, const std::string& type) {
    tensors[layer + "." + suffix] = std::move(t);
    description[layer + "." + suffix] = type;
  }

  void set_float_linear(const std::string& layer, int64_t n, int64_t k) {
    clear_layer(layer);
    put(layer, "weight", random_uniform_f32({n, k}, rng), "FLOAT");
    put(layer, "bias", random_uniform_f32({n}, rng), "FLOAT");
  }

  // Static W8A8 (modelslim-format.md §2.1): deq_scale int64 bit patterns unless deq_f32.
  void set_w8a8(const std::string& layer, int64_t n, int64_t k, bool deq_f32 = false, float s_x = 0.05f,
                float o_x = -3.0f) {
    clear_layer(layer);
    const std::string t = "W8A8";
    put(layer, "weight", i8_tensor({n, k}, rng, -127, 127), t);
    put(layer, "input_scale", scalar_f32(s_x), t);
    put(layer, "input_offset", scalar_f32(o_x), t);
    Tensor deq = Tensor::empty({n}, deq_f32 ? DType::F32 : DType::I64);
    Tensor qb = Tensor::empty({n}, DType::I32);
    for (int64_t i = 0; i < n; ++i) {
      const float v = s_x * static_cast<float>(0.001 * (i + 1));
      if (deq_f32) {
        deq.data<float>()[i] = v;
      } else {
        uint32_t bits;
        std::memcpy(&bits, &v, 4);
        deq.data<int64_t>()[i] = static_cast<int64_t>(static_cast<int32_t>(bits));
      }
      qb.data<int32_t>()[i] = static_cast<int32_t>(100 * i - 7);
    }
    put(layer, "deq_scale", deq, t);
    put(layer, "quant_bias", qb, t);
    put(layer, "bias", random_uniform_f32({n}, rng), "FLOAT");
  }

  // W8A8_DYNAMIC / W4A4_DYNAMIC / W8A16 (per-channel, modelslim-format.md §2.2, §2.4, §2.5).
  void set_dynamic(const std::string& layer, int64_t n, int64_t k, const std::string& type) {
    clear_layer(layer);
    const bool int4 = type == "W4A4_DYNAMIC";
    put(layer, "weight", i8_tensor({n, k}, rng, int4 ? -8 : -127, int4 ? 7 : 127), type);
    put(layer, "weight_scale", random_uniform_f32({n, 1}, rng, 0.001, 0.01), type);
    put(layer, "weight_offset", Tensor::zeros({n, 1}, DType::F32), type);
    put(layer, "bias", random_uniform_f32({n}, rng), "FLOAT");
  }

  // W4A8_DYNAMIC v1.0.0 (modelslim-format.md §2.7 (c)): weight packed along N, scale_bias = 8 sum_k W_q s_w.
  // Returns the unpacked int4 weight it packed.
  Tensor set_w4a8(const std::string& layer, int64_t n, int64_t k) {
    clear_layer(layer);
    const std::string t = "W4A8_DYNAMIC";
    Tensor w = i8_tensor({n, k}, rng, -8, 7);
    Tensor packed = Tensor::empty({n / 2, k}, DType::I8);
    for (int64_t j = 0; j < n / 2; ++j)
      for (int64_t c = 0; c < k; ++c) {
        const uint8_t lo = static_cast<uint8_t>(w.data<int8_t>()[2 * j * k + c]) & 0xF;
        const uint8_t hi = static_cast<uint8_t>(w.data<int8_t>()[(2 * j + 1) * k + c]) & 0xF;
        packed.data<int8_t>()[j * k + c] = static_cast<int8_t>(static_cast<uint8_t>((hi << 4) | lo));
      }
    Tensor s = random_uniform_f32({n, 1}, rng, 0.001, 0.01);
    Tensor sb = Tensor::empty({n, 1}, DType::F32);
    for (int64_t r = 0; r < n; ++r) {
      double acc = 0;
      for (int64_t c = 0; c < k; ++c) acc += w.data<int8_t>()[r * k + c] * static_cast<double>(s.data<float>()[r]);
      sb.data<float>()[r] = static_cast<float>(8 * acc);
    }
    put(layer, "weight", packed, t);
    put(layer, "weight_scale", s, t);
    put(layer, "weight_offset", Tensor::zeros({n, 1}, DType::F32), t);
    put(layer, "scale_bias", sb, t);
    put(layer, "bias", random_uniform_f32({n}, rng), "FLOAT");
    return w;
  }

  // Every block linear of every block in `type`.
  void quantize_blocks(const std::string& type) {
    for (const auto& [name, nk] : linears()) {
      if (name.rfind("blocks.", 0) != 0) continue;
      if (type == "W8A8")
        set_w8a8(name, nk.first, nk.second);
      else if (type == "W4A8_DYNAMIC")
        set_w4a8(name, nk.first, nk.second);
      else
        set_dynamic(name, nk.first, nk.second, type);
    }
  }

  std::pair<int64_t, int64_t> nk(const std::string& layer) const {
    for (const auto& [name, v] : linears())
      if (name == layer) return v;
    throw std::invalid_argument("no layer " + layer);
  }

  std::string file_name(const std::string& canonical) const {
    return native_names ? to_native(canonical) : canonical;
  }

  nlohmann::json config_json() const {
    if (native_config)
      return {{"_class_name", "WanModel"}, {"dim", d.D},       {"ffn_dim", d.F},     {"num_heads", d.heads},
              {"num_layers", d.layers},   {"in_dim", d.Cin},  {"out_dim", d.Cout},  {"text_len", 512},
              {"freq_dim", d.freq},       {"eps", 1e-6},      {"model_type", "t2v"}, {"text_dim", d.text}};
    return test::diffusers_config_json({d.D, d.heads, d.Cin, d.Cout, d.text, d.freq, d.F, d.layers});
  }

  nlohmann::json description_json() const {
    nlohmann::json j = nlohmann::json::object();
    std::string top = "FLOAT";
    for (const auto& [k, v] : description)
      if (v != "FLOAT") top = v;
    j["model_quant_type"] = top;
    if (!version.empty()) j["version"] = version;
    j["group_size"] = group_size;
    for (const auto& [k, v] : description) j[native_description ? to_native(k) : k] = v;
    return j;
  }

  // Writes a component folder. Layout by names: native -> raw msModelSlim output (quant_model_weight_<t>...),
  // Diffusers -> the repacked layout (diffusion_pytorch_model.safetensors + quant_model_description.json).
  std::string write(const std::string& dir) const {
    std::vector<std::pair<std::string, Tensor>> list;
    for (const auto& [k, v] : tensors) list.push_back({file_name(k), v});
    write_json(dir + "/config.json", config_json());
    if (native_names) {
      write_safetensors(dir + "/quant_model_weight_w8a8.safetensors", list);
      if (with_description) write_json(dir + "/quant_model_description_w8a8.json", description_json());
    } else {
      write_safetensors(dir + "/diffusion_pytorch_model.safetensors", list);
      if (with_description) write_json(dir + "/quant_model_description.json", description_json());
    }
    return dir;
  }
};

}  // namespace qdit::test
