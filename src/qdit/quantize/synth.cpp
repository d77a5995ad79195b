#include "qdit/quantize/synth.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <vector>

#include "qdit/core/error.h"
#include "qdit/core/half.h"
#include "qdit/io/safetensors.h"
#include "qdit/models/wan/rules.h"
#include "qdit/quantize/config_writer.h"
#include "qdit/quantize/output_dir.h"
#include "qdit/quantize/progress_bar.h"
#include "qdit/quantize/synth_random.h"

namespace qdit::quantize {

namespace fs = std::filesystem;

namespace {

ErrorContext usage_ctx(std::string expected, std::string found) {
  ErrorContext c;
  c.expected = std::move(expected);
  c.found = std::move(found);
  return c;
}

struct Stats {
  float mean, stddev;
};

Stats stats_for(const wan::ParamDecl& p, const wan::WanConfig& c) {
  int64_t fan_in = 1;
  for (size_t i = 1; i < p.shape.size(); ++i) fan_in *= p.shape[i];
  switch (p.role) {
    case wan::ParamRole::LinearWeight:
    case wan::ParamRole::ConvWeight: return {0.0f, 1.0f / std::sqrt(static_cast<float>(fan_in))};
    // Biases of trained transformers are of order 0.1, and in Wan they matter more than usual: the 512-token
    // zero padding of the text reaches cross-attention through the text MLP's biases alone.
    case wan::ParamRole::LinearBias:
    case wan::ParamRole::ConvBias: return {0.0f, 0.1f};
    case wan::ParamRole::NormBias: return {0.0f, 0.05f};
    case wan::ParamRole::PositionEmbedding: return {0.0f, 0.02f};
    case wan::ParamRole::Norm: return {1.0f, 0.05f};
    case wan::ParamRole::Modulation: return {0.0f, 1.0f / std::sqrt(static_cast<float>(c.dim))};
  }
  fail_internal("synth: unknown parameter role for " + p.canonical);
}

void convert_into(const std::vector<float>& src, DType dtype, std::vector<uint8_t>& dst) {
  dst.resize(src.size() * dtype_size(dtype));
  if (dtype == DType::F32) {
    std::memcpy(dst.data(), src.data(), dst.size());
    return;
  }
  uint16_t* h = reinterpret_cast<uint16_t*>(dst.data());
  for (size_t i = 0; i < src.size(); ++i) h[i] = dtype == DType::BF16 ? f32_to_bf16(src[i]) : f32_to_f16(src[i]);
}

std::string output_name(const std::string& canonical, NameSpace names) {
  if (names == NameSpace::Diffusers) return canonical;
  MappedName m = wan::wan_diffusers_to_native().map(canonical);
  if (m.dropped || m.name.empty()) fail_internal("synth: the native rule list drops " + canonical);
  return m.name;
}

int64_t write_component(const SynthOptions& opt, const wan::WanConfig& config, const std::string& dir, int expert,
                        SynthResult& result) {
  if (dir != opt.out) prepare_output_dir(dir);
  write_json_file((fs::path(dir) / "config.json").string(), wan_config_json(config, opt.names));
  const wan::WanSchema schema = wan::build_schema(config);
  const std::string path = (fs::path(dir) / "diffusion_pytorch_model.safetensors").string();
  SafetensorsWriter writer(path);
  writer.set_metadata({{"format", "pt"}});
  for (const auto& p : schema.params) writer.declare(output_name(p.canonical, opt.names), opt.dtype, p.shape);
  ProgressBar bar("synth " + fs::path(dir).filename().string(), static_cast<int64_t>(schema.params.size()),
                  opt.progress);
  std::vector<float> values;
  std::vector<uint8_t> bytes;
  int64_t written = 0;
  for (const auto& p : schema.params) {
    values.resize(static_cast<size_t>(shape_numel(p.shape)));
    synth_param_values(p, config, opt.seed, expert, values.data());
    convert_into(values, opt.dtype, bytes);
    writer.write(output_name(p.canonical, opt.names), bytes.data(), bytes.size());
    written += static_cast<int64_t>(bytes.size());
    bar.step(static_cast<int64_t>(bytes.size()));
  }
  writer.finish();
  bar.finish();
  result.tensors += static_cast<int64_t>(schema.params.size());
  return written;
}

}  // namespace

int synth_experts(const std::string& variant) {
  return variant == "wan2.2-t2v-a14b" || variant == "wan2.2-i2v-a14b" ? 2 : 1;
}

wan::WanConfig synth_config(const SynthOptions& opt) {
  wan::WanConfig c = wan::released_config(opt.variant);
  const int64_t head_dim = c.head_dim();
  auto positive = [](const char* flag, std::optional<int64_t> v) {
    if (v && *v <= 0) fail_usage(std::string(flag) + " must be positive", usage_ctx("> 0", std::to_string(*v)));
  };
  positive("--layers", opt.layers);
  positive("--dim", opt.dim);
  positive("--heads", opt.heads);
  positive("--ffn", opt.ffn);
  if (opt.layers) c.num_layers = *opt.layers;
  if (opt.ffn) c.ffn_dim = *opt.ffn;
  if (opt.dim) c.dim = *opt.dim;
  if (opt.heads) {
    c.num_heads = *opt.heads;
  } else if (opt.dim) {
    if (*opt.dim % head_dim != 0)
      fail_usage("--dim without --heads keeps the head dim " + std::to_string(head_dim) + ", so it must divide --dim",
                 usage_ctx("a multiple of " + std::to_string(head_dim) + " or --heads", std::to_string(*opt.dim)));
    c.num_heads = *opt.dim / head_dim;
  }
  if (c.dim % c.num_heads != 0 || (c.dim / c.num_heads) % 2 != 0)
    fail_usage("--dim / --heads must be an even head dim (RoPE rotates channel pairs)",
               usage_ctx("dim divisible by heads with an even quotient",
                         std::to_string(c.dim) + " / " + std::to_string(c.num_heads)));
  c.variant = wan::identify_variant(c);
  return c;
}

void synth_param_values(const wan::ParamDecl& p, const wan::WanConfig& c, uint64_t seed, int expert, float* out) {
  const Stats s = stats_for(p, c);
  // The expert index is folded into the seed so the two Wan2.2 experts differ, as trained experts do.
  const uint64_t stream = tensor_stream_seed(seed + 0x51ed2701ULL * static_cast<uint64_t>(expert), p.canonical);
  fill_normal(stream, s.mean, s.stddev, out, shape_numel(p.shape));
}

SynthResult synthesize(const SynthOptions& opt) {
  if (opt.out.empty()) fail_usage("--out is required");
  if (opt.dtype != DType::F32 && opt.dtype != DType::BF16 && opt.dtype != DType::F16)
    fail_usage("--dtype must be f32, bf16 or f16", usage_ctx("f32, bf16 or f16", std::string(dtype_name(opt.dtype))));
  const wan::WanConfig config = synth_config(opt);
  const int experts = synth_experts(opt.variant);
  SynthResult result;
  prepare_output_dir(opt.out);
  if (experts == 1) {
    result.bytes += write_component(opt, config, opt.out, 0, result);
    result.component_dirs.push_back(opt.out);
    return result;
  }
  if (opt.names == NameSpace::Diffusers)
    // The expert switch of the original configs (wan-dit.md §1): 0.875 for T2V-A14B, 0.900 for I2V-A14B.
    write_json_file((fs::path(opt.out) / "model_index.json").string(),
                    pipeline_index_json(experts, opt.variant == "wan2.2-i2v-a14b" ? 0.9 : 0.875));
  for (int e = 0; e < experts; ++e) {
    const std::string dir = (fs::path(opt.out) / component_folder(opt.names, e)).string();
    result.bytes += write_component(opt, config, dir, e, result);
    result.component_dirs.push_back(dir);
  }
  return result;
}

}  // namespace qdit::quantize
