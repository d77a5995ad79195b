// `qdit bench --synthetic`: one Wan DiT forward timed on random weights made on the device (synthetic_model.h),
// with the per-stage breakdown (GEMMs, attention, norms, pointwise ops, copies, the untimed rest; ops/stage_timer.h), the device memory the run held,
// and the ceilings measured in the same run (device_probe.h), so the gap to the physical limit is visible.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qdit/bench/device_probe.h"
#include "qdit/models/wan/config.h"
#include "qdit/ops/ops.h"
#include "qdit/ops/stage_timer.h"
#include "qdit/quant/linear.h"

namespace qdit::bench {

struct SyntheticBenchOptions {
  std::string variant = "wan2.1-t2v-14b";
  SchemeId scheme = SchemeId::W8A8Dynamic;
  std::vector<std::string> excludes;                // globs on canonical layer names
  int64_t frames = 81, height = 480, width = 832;   // video size in pixels (the VAE's grid is derived)
  Device device = Device::CUDA;
  ops::Precision precision = ops::Precision::BF16;
  int64_t layers = 0;                               // transformer blocks; 0 = the variant's
  int warmup = 1, repeat = 3;
  int64_t text_tokens = 512;
  bool ceilings = true;                             // CUDA only
  ops::AttentionQk self_attention_qk = ops::AttentionQk::AsPrecision;  // wan::ForwardOptions::self_attention_qk
  uint64_t seed = 1;
};

// Latent [C, T, H, W] of a video: the Wan VAEs compress time by 4 and space by 8 (Wan2.2 TI2V-5B, 48 channels:
// by 16). Usage error for sizes the VAE and the (1,2,2) patch cannot take (frames != 4k+1, odd patch grid).
struct LatentShape {
  int64_t channels = 0, frames = 0, height = 0, width = 0;
  int64_t tokens() const { return frames * (height / 2) * (width / 2); }
};
LatentShape latent_shape(const wan::WanConfig& c, int64_t frames, int64_t height, int64_t width);

// Bytes the non-GEMM, non-attention ops of one block move when each runs unfused on fp32 activations (reading its
// inputs once, writing its output once): 3 LayerNorms, 3 RMSNorms (q, k, cross q), RoPE on q and k, 3 residual
// adds over [L, D] and GELU over [L, F]: 100·L·D + 8·L·F. A fixed reference for "the rest" at copy bandwidth;
// the fused producers and the bf16 attention activations move less, so the memory-bound stages can beat it.
double rest_bytes_per_block(const wan::WanConfig& c, int64_t tokens);

struct BenchResult {
  SyntheticBenchOptions options;
  DeviceFacts device;
  wan::WanConfig config;
  LatentShape latent;
  int quantized_layers = 0, float_layers = 0;
  int64_t weight_bytes = 0;
  double build_ms = 0;                 // generating the weights on the device
  std::vector<double> forward_ms;      // each timed forward (host clock around wan_forward: host work included)
  double forward_median_ms = 0;
  double staged_forward_ms = 0;        // one more forward with the stage timer on
  ops::StageTotals stages;             // from that forward
  double rest_ms = 0;                  // staged forward minus every timed stage (host gaps, untimed small ops)
  double rest_bytes = 0;               // rest_bytes_per_block x blocks: the floor of the memory-bound stages
  ArenaFigures arena;                  // CUDA
  int64_t used_delta_bytes = 0;        // device memory in use after the forwards minus before the weights (CUDA)
  bool ceilings_measured = false;
  Ceilings ceilings;
  double output_rms = 0;               // of noise_pred: finite and non-zero, or the run is an error

  // Peak device memory of the run: the arena's high-water mark (weights included) plus fixed buffers.
  int64_t peak_memory_bytes() const { return arena.reserved + arena.fixed; }
};

BenchResult run_synthetic_bench(const SyntheticBenchOptions& o, const std::function<void(const std::string&)>& log);

nlohmann::json result_json(const BenchResult& r);
void print_result(const BenchResult& r, FILE* out);

const char* precision_name(ops::Precision p);

}  // namespace qdit::bench
