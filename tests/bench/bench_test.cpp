// qdit bench's parts: card ids and scenario keys, the baseline comparison and its file, the latent geometry,
// the synthetic model (schemes per layer, value ranges, fan-in scaling, byte count) and the stage timer's
// accounting of the forward's work (every GEMM and attention counted once, against FLOPs derived from the spec).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "ops/cuda_test_util.h"
#include "util/error_kind.h"
#include "util/test_util.h"
#include "qdit/bench/device_probe.h"
#include "qdit/bench/random_fill.h"
#include "qdit/bench/scenarios.h"
#include "qdit/bench/synthetic_bench.h"
#include "qdit/bench/synthetic_model.h"
#include "qdit/core/error.h"
#include "qdit/core/half.h"
#include "qdit/models/wan/forward/wan_model.h"

namespace qdit::bench {
namespace {

using test::error_kind_of;

TEST(CardId, NamesTheCardFromTheDeviceName) {
  EXPECT_EQ(card_id("NVIDIA H200"), "h200");
  EXPECT_EQ(card_id("NVIDIA H100 80GB HBM3"), "h100");
  EXPECT_EQ(card_id("NVIDIA A100-SXM4-80GB"), "a100sxm480gb");
  EXPECT_EQ(card_id("cpu"), "cpu");
  EXPECT_EQ(card_id(""), "unknown");
}

TEST(Scenarios, KeysCarryTheCard) {
  EXPECT_EQ(resolve_scenario("wan14b_480p_w8a8dyn", "h200").key, "wan14b_480p_w8a8dyn_h200");
  EXPECT_EQ(resolve_scenario("wan1.3b_480p_w8a8dyn_h100", "h100").key, "wan1.3b_480p_w8a8dyn_h100");
  EXPECT_EQ(resolve_scenario("wan14b_480p_w8a8dyn", "h100").scenario.options.variant, "wan2.1-t2v-14b");
  EXPECT_EQ(error_kind_of([] { resolve_scenario("wan14b_480p_w8a8dyn_h100", "h200"); }), ErrorKind::Usage);
  EXPECT_EQ(error_kind_of([] { resolve_scenario("wan99b", "h200"); }), ErrorKind::Usage);
  // A scenario id that extends another one resolves to itself, with or without the card.
  EXPECT_EQ(resolve_scenario("wan14b_480p_w8a8dyn_qk8", "h200").key, "wan14b_480p_w8a8dyn_qk8_h200");
  EXPECT_EQ(resolve_scenario("wan14b_480p_w8a8dyn_qk8_h200", "h200").scenario.id, "wan14b_480p_w8a8dyn_qk8");
  EXPECT_EQ(resolve_scenario("wan14b_480p_w8a8dyn_qk8", "h200").scenario.options.self_attention_qk,
            ops::AttentionQk::Int8);
  EXPECT_EQ(resolve_scenario("wan14b_480p_w8a8dyn", "h200").scenario.options.self_attention_qk,
            ops::AttentionQk::AsPrecision);
  EXPECT_EQ(resolve_scenario("wan1.3b_480p_w8a8dyn_qk8pv8_h200", "h200").scenario.options.self_attention_qk,
            ops::AttentionQk::Int8E4m3Pv);
  EXPECT_EQ(error_kind_of([] { resolve_scenario("wan14b_480p_w8a8dyn_qk8_h100", "h200"); }), ErrorKind::Usage);
  for (const Scenario& s : scenarios()) {
    EXPECT_EQ(s.options.scheme, SchemeId::W8A8Dynamic) << s.id;
    EXPECT_EQ(s.options.excludes, std::vector<std::string>{"*ffn.net.2*"}) << s.id;
    EXPECT_EQ(latent_shape(wan::released_config(s.options.variant), s.options.frames, s.options.height,
                           s.options.width).tokens(), 32760) << s.id;
  }
}

Baseline sample_baseline() {
  Baseline b;
  b.figures.forward_ms = 100;
  b.figures.stages_ms = {{"gemm", 40}, {"attention", 50}, {"rest", 5}};
  b.figures.peak_memory_bytes = 1000;
  return b;
}

TEST(BaselineCheck, TolerancesGateSlowerRunsOnly) {
  const Baseline b = sample_baseline();
  Figures f = b.figures;
  f.forward_ms = 109;
  EXPECT_FALSE(compare_to_baseline(b, f).regressed);
  f.forward_ms = 111;
  EXPECT_TRUE(compare_to_baseline(b, f).regressed);
  f = b.figures;
  f.stages_ms["attention"] = 56;  // +12 % on a stage of half the forward
  EXPECT_TRUE(compare_to_baseline(b, f).regressed);
  f = b.figures;
  f.stages_ms["rest"] = 8;  // +60 % on a stage under 10 % of the forward: shown, not gated
  const CheckReport small = compare_to_baseline(b, f);
  EXPECT_FALSE(small.regressed);
  EXPECT_EQ(small.lines.size(), 5u);  // forward, three stages, memory
  {
    Baseline big_rest = b;  // the rest at 20 % of the forward: large, but a residual with the host's share in it
    big_rest.figures.stages_ms = {{"gemm", 40}, {"attention", 40}, {"rest", 20}};
    Figures g = big_rest.figures;
    g.stages_ms["rest"] = 26;  // +30 %, while the forward stays within its 10 %
    g.forward_ms = 106;
    EXPECT_FALSE(compare_to_baseline(big_rest, g).regressed);
    g.stages_ms["gemm"] = 45;  // +12.5 % on a timed stage of 40 % of the forward
    EXPECT_TRUE(compare_to_baseline(big_rest, g).regressed);
  }
  f = b.figures;
  f.peak_memory_bytes = 1060;
  EXPECT_TRUE(compare_to_baseline(b, f).regressed);
  f = b.figures;
  f.forward_ms = 81;
  EXPECT_FALSE(compare_to_baseline(b, f).much_faster);
  f.forward_ms = 79;
  const CheckReport fast = compare_to_baseline(b, f);
  EXPECT_TRUE(fast.much_faster);
  EXPECT_FALSE(fast.regressed);
}

// A baseline records every timed stage (so --check can gate each of them) plus the untimed rest.
TEST(BaselineCheck, FiguresCarryEveryStageAndTheRest) {
  BenchResult r;
  r.forward_median_ms = 100;
  for (int s = 0; s < ops::kStageCount; ++s) r.stages.ms[s] = 10.0 * (s + 1);
  r.rest_ms = 7;
  const Figures f = figures_of(r);
  EXPECT_EQ(f.forward_ms, 100);
  ASSERT_EQ(f.stages_ms.size(), static_cast<size_t>(ops::kStageCount) + 1);
  EXPECT_EQ(f.stages_ms.at("gemm"), 10);
  EXPECT_EQ(f.stages_ms.at("attention"), 20);
  EXPECT_EQ(f.stages_ms.at("norms"), 30);
  EXPECT_EQ(f.stages_ms.at("pointwise"), 40);
  EXPECT_EQ(f.stages_ms.at("copies"), 50);
  EXPECT_EQ(f.stages_ms.at("rest"), 7);
}

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(BaselineFile, ReadsEntriesAndRejectsMalformedOnes) {
  const std::string good = write_temp(
      "baselines_good.json",
      R"({"scenarios": {"x_h200": {"forward_ms": 12.5, "peak_memory_bytes": 7, "stages_ms": {"gemm": 3},
          "tolerance": {"slower": 0.1, "faster": 0.2, "memory": 0.05}}}})");
  const nlohmann::json doc = read_baselines(good);
  const Baseline b = baseline_from_entry(doc["scenarios"]["x_h200"], good, "x_h200");
  EXPECT_EQ(b.figures.forward_ms, 12.5);
  EXPECT_EQ(b.figures.stages_ms.at("gemm"), 3);
  EXPECT_EQ(b.tolerance.memory, 0.05);
  EXPECT_EQ(error_kind_of([] { read_baselines(::testing::TempDir() + "no_such_baselines.json"); }), ErrorKind::Io);
  const std::string bad_json = write_temp("baselines_bad.json", "{\"scenarios\": ");
  EXPECT_EQ(error_kind_of([&] { read_baselines(bad_json); }), ErrorKind::Checkpoint);
  const std::string no_scen = write_temp("baselines_noscen.json", "{\"x\": 1}");
  EXPECT_EQ(error_kind_of([&] { read_baselines(no_scen); }), ErrorKind::Checkpoint);
  const nlohmann::json missing = {{"peak_memory_bytes", 1}, {"stages_ms", nlohmann::json::object()}};
  try {
    baseline_from_entry(missing, "f.json", "x_h200");
    ADD_FAILURE() << "an entry without forward_ms was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Checkpoint);
    EXPECT_NE(std::string(e.what()).find("forward_ms"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("f.json"), std::string::npos) << e.what();
  }
}

TEST(LatentShape, FollowsTheVaeAndThePatch) {
  const LatentShape l = latent_shape(wan::released_config("wan2.1-t2v-14b"), 81, 480, 832);
  EXPECT_EQ(l.channels, 16);
  EXPECT_EQ(l.frames, 21);
  EXPECT_EQ(l.height, 60);
  EXPECT_EQ(l.width, 104);
  EXPECT_EQ(l.tokens(), 32760);
  // Wan2.2 TI2V-5B: 48-channel VAE, 16x spatial (wan-dit.md §6: L = 27280 at 704x1280x121).
  EXPECT_EQ(latent_shape(wan::released_config("wan2.2-ti2v-5b"), 121, 704, 1280).tokens(), 27280);
  const wan::WanConfig c = wan::released_config("wan2.1-t2v-1.3b");
  EXPECT_EQ(error_kind_of([&] { latent_shape(c, 80, 480, 832); }), ErrorKind::Usage);
  EXPECT_EQ(error_kind_of([&] { latent_shape(c, 81, 488, 832); }), ErrorKind::Usage);
}

wan::WanConfig small_config() {
  wan::WanConfig c;
  c.variant = "custom";
  c.dim = 64, c.num_heads = 2, c.ffn_dim = 96, c.num_layers = 2, c.in_channels = 16, c.out_channels = 16;
  c.text_dim = 48;
  return c;
}

double std_of_dequantized(const QuantLinear& l) {
  double sum = 0, sq = 0;
  const int64_t n = l.out_features, k = l.in_features;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) {
      const double v = l.weight.data<int8_t>()[i * k + j] * double(l.weight_scale.data<float>()[i]);
      sum += v, sq += v * v;
    }
  const double m = sum / double(n * k);
  return std::sqrt(sq / double(n * k) - m * m);
}

TEST(SyntheticModel, SchemesPerLayerFollowTheRecipe) {
  SyntheticModelSpec s;
  s.config = small_config();
  s.scheme = SchemeId::W8A8Dynamic;
  s.excludes = {"*ffn.net.2*"};
  s.device = Device::CPU;
  const SyntheticModel m = synthetic_model(s);
  EXPECT_EQ(m.layer_schemes.at("patch_embed"), SchemeId::Float);
  EXPECT_EQ(m.layer_schemes.at("text.fc1"), SchemeId::Float);
  EXPECT_EQ(m.layer_schemes.at("time.proj"), SchemeId::Float);
  EXPECT_EQ(m.layer_schemes.at("blocks.1.self_attn.qkv"), SchemeId::W8A8Dynamic);
  EXPECT_EQ(m.layer_schemes.at("blocks.1.ffn.up"), SchemeId::W8A8Dynamic);
  EXPECT_EQ(m.layer_schemes.at("blocks.1.ffn.down"), SchemeId::Float);
  EXPECT_EQ(m.layer_schemes.at("head.proj"), SchemeId::W8A8Dynamic);
  // 6 per block quantized (qkv, out, q, kv, out, up) + head; float: 6 embedder linears + 1 per block.
  EXPECT_EQ(m.quantized_layers, 2 * 6 + 1);
  EXPECT_EQ(m.float_layers, 6 + 2);

  const wan::WanBlockWeights& b = m.weights.blocks[1];
  EXPECT_EQ(b.ffn_down.weight.dtype(), DType::BF16);
  EXPECT_EQ(b.ffn_up.weight.dtype(), DType::I8);
  int8_t lo = 0, hi = 0;
  for (int64_t i = 0; i < b.ffn_up.weight.numel(); ++i)
    lo = std::min(lo, b.ffn_up.weight.data<int8_t>()[i]), hi = std::max(hi, b.ffn_up.weight.data<int8_t>()[i]);
  EXPECT_EQ(lo, -127);
  EXPECT_EQ(hi, 127);
  // Dequantized weights scaled like a trained model's: std 1/sqrt(fan-in) (uniform grid, scales within 10 %).
  EXPECT_NEAR(std_of_dequantized(b.ffn_up) * std::sqrt(64.0), 1.0, 0.08);
  EXPECT_NEAR(std_of_dequantized(m.weights.proj_out) * std::sqrt(64.0), 1.0, 0.08);
  double sq = 0;
  for (int64_t i = 0; i < b.ffn_down.weight.numel(); ++i) {
    const double v = bf16_to_f32(b.ffn_down.weight.data<uint16_t>()[i]);
    sq += v * v;
  }
  EXPECT_NEAR(std::sqrt(sq / double(b.ffn_down.weight.numel())) * std::sqrt(96.0), 1.0, 0.08);

  // weight_bytes counts every tensor once.
  int64_t bytes = 0;
  auto add = [&](const Tensor& t) { bytes += t.defined() ? static_cast<int64_t>(t.nbytes()) : 0; };
  auto add_l = [&](const QuantLinear& l) {
    for (const Tensor* t : {&l.weight, &l.bias, &l.weight_scale, &l.weight_offset, &l.deq_scale, &l.quant_bias}) add(*t);
  };
  const wan::WanWeights& w = m.weights;
  for (const QuantLinear* l : {&w.patch_embed, &w.time_fc1, &w.time_fc2, &w.time_proj, &w.text_fc1, &w.text_fc2, &w.proj_out})
    add_l(*l);
  add(w.head_modulation);
  for (const auto& k : w.blocks) {
    for (const QuantLinear* l : {&k.self_qkv, &k.self_out, &k.cross_q, &k.cross_kv, &k.cross_out, &k.ffn_up, &k.ffn_down})
      add_l(*l);
    for (const Tensor* t : {&k.modulation, &k.self_norm_q, &k.self_norm_k, &k.cross_norm_w, &k.cross_norm_b,
                            &k.cross_norm_q, &k.cross_norm_k})
      add(*t);
  }
  EXPECT_EQ(bytes, m.weight_bytes);
}

TEST(SyntheticModel, EverySchemeRunsAndInt4StaysInRange) {
  for (SchemeId sc : {SchemeId::Float, SchemeId::W8A8, SchemeId::W8A8Dynamic, SchemeId::W4A4Dynamic,
                      SchemeId::W4A8Dynamic, SchemeId::W8A16}) {
    SyntheticModelSpec s;
    s.config = small_config();
    s.scheme = sc;
    s.device = Device::CPU;
    const SyntheticModel m = synthetic_model(s);
    const QuantLinear& up = m.weights.blocks[0].ffn_up;
    EXPECT_EQ(up.scheme, sc);
    if (sc == SchemeId::W4A4Dynamic || sc == SchemeId::W4A8Dynamic) {
      for (int64_t i = 0; i < up.weight.numel(); ++i) ASSERT_LE(std::abs(int(up.weight.data<int8_t>()[i])), 7);
    }
    if (sc == SchemeId::W8A8) {
      EXPECT_FALSE(up.bias.defined());
      EXPECT_GT(up.input_scale, 0.0f);
    }
    wan::WanInputs in;
    in.hidden_states = Tensor::empty({16, 1, 4, 4}, DType::F32);
    fill_uniform(in.hidden_states, -1, 1, 3);
    in.timestep = Tensor::empty({1}, DType::F32);
    in.timestep.data<float>()[0] = 500;
    in.encoder_hidden_states = Tensor::empty({5, 48}, DType::F32);
    fill_uniform(in.encoder_hidden_states, -1, 1, 4);
    const Tensor out = wan::wan_forward(m.weights, in, {});
    double sq = 0;
    for (int64_t i = 0; i < out.numel(); ++i) sq += double(out.data<float>()[i]) * out.data<float>()[i];
    EXPECT_TRUE(std::isfinite(sq) && sq > 0) << scheme_name(sc);
  }
}

TEST(SyntheticModel, BadExcludesAreUsageErrors) {
  SyntheticModelSpec s;
  s.config = small_config();
  s.device = Device::CPU;
  s.excludes = {"*no.such.layer*"};
  EXPECT_EQ(error_kind_of([&] { synthetic_model(s); }), ErrorKind::Usage);
  s.excludes = {"*attn1.to_q*"};  // would split the fused q|k|v layer
  EXPECT_EQ(error_kind_of([&] { synthetic_model(s); }), ErrorKind::Usage);
  EXPECT_EQ(error_kind_of([] { parse_bench_scheme("w3a3"); }), ErrorKind::Usage);
  EXPECT_EQ(parse_bench_scheme("W8A8_DYNAMIC"), SchemeId::W8A8Dynamic);
}

TEST(StageTimer, OneAtATimeAndSilentWithout) {
  {
    ops::StageTimer t(Device::CPU);
    EXPECT_EQ(error_kind_of([] { ops::StageTimer second(Device::CPU); }), ErrorKind::Internal);
    { ops::StageScope outer(ops::Stage::Gemm, 10); ops::StageScope nested(ops::Stage::Gemm, 99); }
    const ops::StageTotals tot = t.take();
    EXPECT_EQ(tot.calls[0], 1);
    EXPECT_EQ(tot.flops[0], 10);  // the nested scope is part of the outer call
    EXPECT_EQ(t.take().calls[0], 0);
  }
  EXPECT_EQ(ops::detail::active_stage_timer, nullptr);
  { ops::StageScope s(ops::Stage::Attention, 1); }  // no timer: nothing recorded, nothing thrown
}

// The CPU run of the whole benchmark: every GEMM and attention of the forward is counted once, with the work of
// wan-dit.md §6's formulas for this (tiny) grid.
TEST(SyntheticBench, StageAccountingMatchesTheModelsWork) {
  SyntheticBenchOptions o;
  o.variant = "wan2.1-t2v-1.3b";
  o.layers = 1;
  o.frames = 5, o.height = 32, o.width = 16;  // latent 16x2x4x2 -> 2x2x1 = 4 tokens
  o.device = Device::CPU;
  o.precision = ops::Precision::FP32;
  o.warmup = 0, o.repeat = 2;
  o.text_tokens = 7;
  o.excludes = {"*ffn.net.2*"};
  std::vector<std::string> log;
  const BenchResult r = run_synthetic_bench(o, [&](const std::string& s) { log.push_back(s); });
  const double L = 4, D = 1536, F = 8960, T = 512, P = 64;
  ASSERT_EQ(r.latent.tokens(), 4);
  EXPECT_EQ(r.forward_ms.size(), 2u);
  EXPECT_EQ(r.stages.calls[1], 2);  // self- and cross-attention
  EXPECT_DOUBLE_EQ(r.stages.flops[1], 4 * L * L * D + 4 * L * T * D);
  const double embed = 2 * L * D * (16 * 4) + 2 * D * 256 + 2 * D * D + 2 * 6 * D * D + 2 * T * D * 4096 + 2 * T * D * D;
  const double block = 2 * L * 3 * D * D + 2 * L * D * D + 2 * L * D * D + 2 * T * 2 * D * D + 2 * L * D * D +
                       2 * L * F * D + 2 * L * D * F;
  EXPECT_DOUBLE_EQ(r.stages.flops[0], embed + block + 2 * L * P * D);
  EXPECT_GT(r.stages.ms[0], 0.0);
  EXPECT_GT(r.output_rms, 0.0);
  EXPECT_EQ(r.quantized_layers, 6 + 1);
  const nlohmann::json j = result_json(r);
  EXPECT_EQ(j["tokens"], 4);
  EXPECT_EQ(j["scheme"], "W8A8_DYNAMIC");
  EXPECT_TRUE(j["stages_ms"].contains("rest"));
}

// The device fill computes what the host fill computes (same hash; integers exactly, floats to an ulp).
TEST(RandomFillCuda, MatchesTheHostFill) {
  QDIT_REQUIRE_GPU();
  test::GpuScratch scratch;
  for (DType d : {DType::I8, DType::I32, DType::F32, DType::BF16}) {
    Tensor host = Tensor::empty({100003}, d);
    Tensor dev = ops::empty({100003}, d, Device::CUDA);
    const bool ints = d == DType::I8 || d == DType::I32;
    if (ints) {
      fill_uniform_int(host, -100, 100, 5);
      fill_uniform_int(dev, -100, 100, 5);
    } else {
      fill_uniform(host, -2, 3, 5);
      fill_uniform(dev, -2, 3, 5);
    }
    const Tensor back = test::to_cpu(dev);
    for (int64_t i = 0; i < host.numel(); ++i) {
      const double a = element_as_double(host, i), b = element_as_double(back, i);
      ASSERT_NEAR(a, b, ints ? 0.0 : std::fabs(a) * 1e-2 + 1e-6) << dtype_name(d) << " at " << i;
    }
  }
}

}  // namespace
}  // namespace qdit::bench
