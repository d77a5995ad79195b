#include "qdit/bench/synthetic_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "qdit/bench/random_fill.h"
#include "qdit/bench/synthetic_model.h"
#include "qdit/core/error.h"
#include "qdit/models/wan/forward/wan_model.h"

namespace qdit::bench {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

[[noreturn]] void bad_size(const std::string& what, const std::string& expected, int64_t found) {
  ErrorContext c;
  c.expected = expected;
  c.found = std::to_string(found);
  fail_usage(what, c);
}

wan::WanInputs synthetic_inputs(const wan::WanConfig& c, const LatentShape& l, int64_t text_tokens, uint64_t seed) {
  wan::WanInputs in;
  in.hidden_states = Tensor::empty({l.channels, l.frames, l.height, l.width}, DType::F32);
  fill_uniform(in.hidden_states, -1.5f, 1.5f, seed + 1);
  in.timestep = Tensor::empty({1}, DType::F32);
  in.timestep.data<float>()[0] = 500.0f;
  in.encoder_hidden_states = Tensor::empty({text_tokens, c.text_dim}, DType::F32);
  fill_uniform(in.encoder_hidden_states, -0.5f, 0.5f, seed + 2);
  if (c.has_image_branch) {
    in.encoder_hidden_states_image = Tensor::empty({c.image_tokens, c.image_dim}, DType::F32);
    fill_uniform(in.encoder_hidden_states_image, -1.0f, 1.0f, seed + 3);
  }
  return in;
}

double checked_rms(const Tensor& out) {
  double sum = 0;
  int64_t bad = 0;
  const float* p = out.data<float>();
  for (int64_t i = 0; i < out.numel(); ++i) {
    if (!std::isfinite(p[i])) ++bad;
    else sum += static_cast<double>(p[i]) * p[i];
  }
  const double rms = std::sqrt(sum / std::max<int64_t>(out.numel(), 1));
  if (bad || rms == 0.0) {
    ErrorContext c;
    c.expected = "finite, non-zero noise_pred";
    c.found = std::to_string(bad) + " non-finite values, rms " + std::to_string(rms);
    fail_internal("synthetic forward produced an unusable output (a benchmark of it would mean nothing)", c);
  }
  return rms;
}

double gib(double bytes) { return bytes / double(int64_t(1) << 30); }

}  // namespace

const char* precision_name(ops::Precision p) { return p == ops::Precision::BF16 ? "bf16" : "fp32"; }

LatentShape latent_shape(const wan::WanConfig& c, int64_t frames, int64_t height, int64_t width) {
  const int64_t stride = c.in_channels == 48 ? 16 : 8;  // Wan2.2 VAE (TI2V-5B) vs Wan2.1 VAE
  const int64_t step = stride * c.patch_h;
  if (frames < 1 || (frames - 1) % 4) bad_size("--frames must be 4k+1 (the VAE compresses time by 4)", "1, 5, ..., 81", frames);
  if (height < step || height % step)
    bad_size("--height must be a multiple of " + std::to_string(step), "multiple of " + std::to_string(step), height);
  if (width < step || width % step)
    bad_size("--width must be a multiple of " + std::to_string(step), "multiple of " + std::to_string(step), width);
  return {c.in_channels, (frames - 1) / 4 + 1, height / stride, width / stride};
}

double rest_bytes_per_block(const wan::WanConfig& c, int64_t tokens) {
  return 100.0 * tokens * c.dim + 8.0 * tokens * c.ffn_dim;
}

BenchResult run_synthetic_bench(const SyntheticBenchOptions& o, const std::function<void(const std::string&)>& log) {
  BenchResult r;
  r.options = o;
  r.config = wan::released_config(o.variant);
  if (o.layers < 0) bad_size("--layers must be positive", "1.." + std::to_string(r.config.num_layers), o.layers);
  if (o.layers > 0) r.config.num_layers = o.layers;
  if (o.repeat < 1) bad_size("--repeat must be at least 1", ">= 1", o.repeat);
  if (o.text_tokens < 1 || o.text_tokens > r.config.text_len)
    bad_size("--text-tokens out of range", "1.." + std::to_string(r.config.text_len), o.text_tokens);
  r.latent = latent_shape(r.config, o.frames, o.height, o.width);
  r.device = device_facts(o.device);
  const int64_t used_before = o.device == Device::CUDA ? device_used_bytes() : 0;

  log("generating " + o.variant + " weights (" + scheme_name(o.scheme) + ") on " + r.device.name);
  const auto t_build = Clock::now();
  SyntheticModelSpec spec;
  spec.config = r.config;
  spec.scheme = o.scheme;
  spec.excludes = o.excludes;
  spec.device = o.device;
  spec.seed = o.seed;
  SyntheticModel model = synthetic_model(spec);
  synchronize(o.device);  // the fills are asynchronous
  r.build_ms = ms_since(t_build);
  r.quantized_layers = model.quantized_layers;
  r.float_layers = model.float_layers;
  r.weight_bytes = model.weight_bytes;

  const wan::WanInputs inputs = synthetic_inputs(r.config, r.latent, o.text_tokens, o.seed * 7919);
  wan::ForwardOptions fo;
  fo.device = o.device;
  fo.precision = o.precision;
  fo.self_attention_qk = o.self_attention_qk;

  for (int i = 0; i < o.warmup; ++i) {
    log("warm-up forward " + std::to_string(i + 1) + "/" + std::to_string(o.warmup));
    r.output_rms = checked_rms(wan::wan_forward(model.weights, inputs, fo));
  }
  for (int i = 0; i < o.repeat; ++i) {
    const auto t0 = Clock::now();
    const Tensor out = wan::wan_forward(model.weights, inputs, fo);
    r.forward_ms.push_back(ms_since(t0));
    log("forward " + std::to_string(i + 1) + "/" + std::to_string(o.repeat) + ": " + std::to_string(r.forward_ms.back()) + " ms");
    r.output_rms = checked_rms(out);
  }
  std::vector<double> sorted = r.forward_ms;
  std::sort(sorted.begin(), sorted.end());
  r.forward_median_ms = sorted.size() % 2 ? sorted[sorted.size() / 2]
                                          : 0.5 * (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]);
  {
    ops::StageTimer timer(o.device);
    const auto t0 = Clock::now();
    const Tensor out = wan::wan_forward(model.weights, inputs, fo);
    r.staged_forward_ms = ms_since(t0);
    r.stages = timer.take();
    checked_rms(out);
  }
  r.rest_ms = r.staged_forward_ms;  // what no stage timed: host gaps, patchify/unpatchify, the small tables
  for (double ms : r.stages.ms) r.rest_ms -= ms;
  r.rest_bytes = rest_bytes_per_block(r.config, r.latent.tokens()) * static_cast<double>(r.config.num_layers);
  log("stage-timed forward: " + std::to_string(r.staged_forward_ms) + " ms");

  if (o.device == Device::CUDA) {
    r.arena = arena_figures();
    r.used_delta_bytes = device_used_bytes() - used_before;
    if (o.ceilings) {
      log("measuring ceilings (device copy, bf16 GEMM " + std::to_string(r.latent.tokens()) + "x" +
          std::to_string(r.config.dim) + "x" + std::to_string(r.config.dim) + ")");
      r.ceilings = measure_ceilings(r.latent.tokens(), r.config.dim, r.config.dim);
      r.ceilings_measured = true;
    }
  }
  return r;
}

nlohmann::json result_json(const BenchResult& r) {
  using nlohmann::json;
  const SyntheticBenchOptions& o = r.options;
  json j;
  j["variant"] = o.variant;
  j["blocks"] = r.config.num_layers;
  j["scheme"] = scheme_name(o.scheme);
  j["excludes"] = o.excludes;
  j["precision"] = precision_name(o.precision);
  j["self_attention_qk"] = ops::attention_qk_name(o.self_attention_qk);
  j["device"] = o.device == Device::CUDA ? "cuda" : "cpu";
  j["device_name"] = r.device.name;
  j["card"] = r.device.card;
  j["cuda_runtime"] = r.device.cuda_runtime;
  j["cuda_driver"] = r.device.cuda_driver;
  j["video"] = {o.frames, o.height, o.width};
  j["latent"] = {r.latent.channels, r.latent.frames, r.latent.height, r.latent.width};
  j["tokens"] = r.latent.tokens();
  j["text_tokens"] = o.text_tokens;
  j["layers"] = {{"quantized", r.quantized_layers}, {"float", r.float_layers}};
  j["weight_bytes"] = r.weight_bytes;
  j["build_ms"] = r.build_ms;
  j["warmup"] = o.warmup;
  j["forward_ms_runs"] = r.forward_ms;
  j["forward_ms"] = r.forward_median_ms;
  j["staged_forward_ms"] = r.staged_forward_ms;
  json stages;
  for (int s = 0; s < ops::kStageCount; ++s)
    stages[ops::stage_name(static_cast<ops::Stage>(s))] = r.stages.ms[s];
  stages["rest"] = r.rest_ms;
  j["stages_ms"] = stages;
  json work, calls;  // FLOPs for gemm/attention, bytes read + written for the memory-bound stages
  for (int s = 0; s < ops::kStageCount; ++s) {
    work[ops::stage_name(static_cast<ops::Stage>(s))] = r.stages.flops[s];
    calls[ops::stage_name(static_cast<ops::Stage>(s))] = r.stages.calls[s];
  }
  j["stage_work"] = work;
  j["stage_calls"] = calls;
  j["rest_bytes_floor"] = r.rest_bytes;
  if (o.device == Device::CUDA) {
    j["peak_memory_bytes"] = r.peak_memory_bytes();
    j["arena"] = {{"reserved", r.arena.reserved},
                  {"peak_in_use", r.arena.peak_in_use},
                  {"fixed", r.arena.fixed},
                  {"device_mallocs", r.arena.device_mallocs}};
    j["device_used_delta_bytes"] = r.used_delta_bytes;
  }
  if (r.ceilings_measured) {
    const Ceilings& c = r.ceilings;
    j["ceilings"] = {{"copy_gbps", c.copy_gbps},         {"copy_bytes", c.copy_bytes},
                     {"copy_ms", c.copy_ms},             {"bf16_gemm_tflops", c.gemm_tflops},
                     {"bf16_gemm_ms", c.gemm_ms},        {"bf16_gemm_shape", {c.m, c.n, c.k}}};
  }
  j["output_rms"] = r.output_rms;
  return j;
}

void print_result(const BenchResult& r, FILE* out) {
  const SyntheticBenchOptions& o = r.options;
  std::string excl;
  for (const auto& e : o.excludes) excl += (excl.empty() ? "" : ", ") + e;
  std::fprintf(out, "qdit bench: %s, %s%s%s%s, %s%s on %s%s%s\n", o.variant.c_str(), scheme_name(o.scheme),
               excl.empty() ? "" : " (float: ", excl.c_str(), excl.empty() ? "" : ")", precision_name(o.precision),
               o.self_attention_qk == ops::AttentionQk::Int8         ? ", int8 q.k^T in self-attention"
               : o.self_attention_qk == ops::AttentionQk::Int8E4m3Pv ? ", int8 q.k^T and e4m3 P.V in self-attention"
                                                                      : "",
               r.device.name.c_str(), r.device.cuda_runtime.empty() ? "" : ", CUDA runtime ",
               r.device.cuda_runtime.c_str());
  std::fprintf(out, "  video %ldx%ldx%ld -> latent %ldx%ldx%ldx%ld = %ld tokens, %ld text tokens, %ld blocks\n",
               (long)o.frames, (long)o.height, (long)o.width, (long)r.latent.channels, (long)r.latent.frames,
               (long)r.latent.height, (long)r.latent.width, (long)r.latent.tokens(), (long)o.text_tokens,
               (long)r.config.num_layers);
  std::fprintf(out, "  layers: %d quantized, %d float; weights %.2f GiB (made on the device in %.0f ms)\n",
               r.quantized_layers, r.float_layers, gib(static_cast<double>(r.weight_bytes)), r.build_ms);
  const double mn = *std::min_element(r.forward_ms.begin(), r.forward_ms.end());
  std::fprintf(out, "  forward: %.1f ms median (min %.1f; %zu timed after %d warm-up)\n", r.forward_median_ms, mn,
               r.forward_ms.size(), o.warmup);
  std::fprintf(out, "  stages (one more forward with the stage timer: %.1f ms; per block = forward / %ld blocks):\n",
               r.staged_forward_ms, (long)r.config.num_layers);
  const Ceilings& c = r.ceilings;
  const bool ceil = r.ceilings_measured;
  // The blocks are >99 % of a Wan forward's work, so the forward's stage time over the block count is the
  // per-block cost to within the patch embedding, time MLP and head.
  const double blocks = r.config.num_layers > 0 ? static_cast<double>(r.config.num_layers) : 1.0;
  std::fprintf(out, "    %-10s %10s %9s %7s %12s %14s %s\n", "stage", "ms", "per block", "share", "work", "rate",
               "vs ceiling (same run)");
  for (int s = 0; s < ops::kStageCount; ++s) {
    const auto stage = static_cast<ops::Stage>(s);
    const double ms = r.stages.ms[s], work = r.stages.flops[s];
    if (ops::stage_counts_bytes(stage)) {
      const double gbps = ms > 0 ? work / (ms * 1e-3) / 1e9 : 0;
      std::fprintf(out, "    %-10s %10.1f %9.2f %6.1f%% %9.1f GB %9.0f GB/s ", ops::stage_name(stage), ms,
                   ms / blocks, 100.0 * ms / r.staged_forward_ms, work / 1e9, gbps);
      if (ceil) std::fprintf(out, "   %.2fx copy (%.0f GB/s)", gbps / c.copy_gbps, c.copy_gbps);
    } else {
      const double rate = ms > 0 ? work / (ms * 1e-3) / 1e12 : 0;
      std::fprintf(out, "    %-10s %10.1f %9.2f %6.1f%% %9.3f TF %9.1f TOP/s", ops::stage_name(stage), ms,
                   ms / blocks, 100.0 * ms / r.staged_forward_ms, work / 1e12, rate);
      if (ceil) std::fprintf(out, "   %.2fx bf16 GEMM (%.0f TFLOP/s)", rate / c.gemm_tflops, c.gemm_tflops);
    }
    std::fprintf(out, "\n");
  }
  std::fprintf(out, "    %-10s %10.1f %9.2f %6.1f%%   (not timed by a stage: host gaps, patchify, small tables)\n",
               "rest", r.rest_ms, r.rest_ms / blocks, 100.0 * r.rest_ms / r.staged_forward_ms);
  double memory_ms = 0;
  for (int s = 0; s < ops::kStageCount; ++s)
    if (ops::stage_counts_bytes(static_cast<ops::Stage>(s))) memory_ms += r.stages.ms[s];
  const double floor_gbps = memory_ms > 0 ? r.rest_bytes / (memory_ms * 1e-3) / 1e9 : 0;
  std::fprintf(out, "    memory-bound stages vs the unfused byte floor of the block's other ops (%.1f GB): %.0f GB/s",
               r.rest_bytes / 1e9, floor_gbps);
  if (ceil) std::fprintf(out, " = %.2fx copy", floor_gbps / c.copy_gbps);
  std::fprintf(out, "\n");
  if (o.device == Device::CUDA)
    std::fprintf(out,
                 "  device memory: peak %.2f GiB (arena %.2f GiB reserved, %.2f GiB peak handed out; fixed %.2f GiB);"
                 " in use after the run vs before the weights %.2f GiB\n",
                 gib(r.peak_memory_bytes()), gib(r.arena.reserved), gib(r.arena.peak_in_use), gib(r.arena.fixed),
                 gib(r.used_delta_bytes));
  if (ceil)
    std::fprintf(out, "  ceilings: device copy %.0f GB/s (1 GiB, read+write); bf16 GEMM %ldx%ldx%ld %.3f ms = %.0f TFLOP/s\n",
                 c.copy_gbps, (long)c.m, (long)c.n, (long)c.k, c.gemm_ms, c.gemm_tflops);
}

}  // namespace qdit::bench
