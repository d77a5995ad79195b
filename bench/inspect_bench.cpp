// `qdit inspect` on a Wan2.1-T2V-14B-sized checkpoint (40 blocks, real names and shapes, W8A8_DYNAMIC block
// linears, FLOAT everything else). The data area is a sparse file (ftruncate), so the 15 GB checkpoint costs no
// disk; only the header, config.json and the description are real. Target (issue 2): plan + report < 0.2 s.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "qdit/load/plan.h"
#include "qdit/load/report.h"
#include "util/test_util.h"

namespace {

struct Entry {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  int64_t elem_size;
};

// Writes a safetensors file whose data area is a hole: header only, then ftruncate to the full size.
void write_sparse_safetensors(const std::string& path, const std::vector<Entry>& entries) {
  nlohmann::json h = nlohmann::json::object();
  uint64_t off = 0;
  for (const auto& e : entries) {
    uint64_t n = e.elem_size;
    for (int64_t d : e.shape) n *= d;
    h[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {off, off + n}}};
    off += n;
  }
  std::string text = h.dump();
  while ((text.size() + 8) % 8) text += ' ';
  const uint64_t len = text.size();
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  if (fd < 0 || ::write(fd, &len, 8) != 8 || ::write(fd, text.data(), len) != static_cast<ssize_t>(len) ||
      ::ftruncate(fd, static_cast<off_t>(8 + len + off)) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
  ::close(fd);
}

std::string make_14b(const qdit::test::TempDir& dir) {
  const int64_t D = 5120, F = 13824, L = 40, Cin = 16, Cout = 16, T = 4096, Fr = 256;
  std::vector<Entry> e;
  nlohmann::json desc = {{"model_quant_type", "W8A8_DYNAMIC"}, {"version", "1.0.0"}, {"group_size", 0}};
  auto flt = [&](const std::string& n, std::vector<int64_t> s) {
    e.push_back({n, "BF16", std::move(s), 2});
    desc[n] = "FLOAT";
  };
  auto float_linear = [&](const std::string& n, int64_t out, int64_t in) {
    flt(n + ".weight", {out, in});
    flt(n + ".bias", {out});
  };
  auto dyn_linear = [&](const std::string& n, int64_t out, int64_t in) {
    e.push_back({n + ".weight", "I8", {out, in}, 1});
    e.push_back({n + ".weight_scale", "F32", {out, 1}, 4});
    e.push_back({n + ".weight_offset", "F32", {out, 1}, 4});
    for (const char* s : {".weight", ".weight_scale", ".weight_offset"}) desc[n + s] = "W8A8_DYNAMIC";
    flt(n + ".bias", {out});
  };
  flt("patch_embedding.weight", {D, Cin, 1, 2, 2});
  flt("patch_embedding.bias", {D});
  float_linear("condition_embedder.time_embedder.linear_1", D, Fr);
  float_linear("condition_embedder.time_embedder.linear_2", D, D);
  float_linear("condition_embedder.time_proj", 6 * D, D);
  float_linear("condition_embedder.text_embedder.linear_1", D, T);
  float_linear("condition_embedder.text_embedder.linear_2", D, D);
  flt("scale_shift_table", {1, 2, D});
  float_linear("proj_out", 4 * Cout, D);
  for (int64_t b = 0; b < L; ++b) {
    const std::string p = "blocks." + std::to_string(b) + ".";
    flt(p + "scale_shift_table", {1, 6, D});
    for (const char* a : {"attn1", "attn2"}) {
      for (const char* l : {"to_q", "to_k", "to_v", "to_out.0"}) dyn_linear(p + a + "." + l, D, D);
      flt(p + a + ".norm_q.weight", {D});
      flt(p + a + ".norm_k.weight", {D});
    }
    flt(p + "norm2.weight", {D});
    flt(p + "norm2.bias", {D});
    dyn_linear(p + "ffn.net.0.proj", F, D);
    dyn_linear(p + "ffn.net.2", D, F);
  }
  write_sparse_safetensors(dir.path() + "/diffusion_pytorch_model.safetensors", e);
  qdit::test::write_json(dir.path() + "/quant_model_description.json", desc);
  qdit::test::write_json(dir.path() + "/config.json",
                         {{"_class_name", "WanTransformer3DModel"}, {"num_attention_heads", 40},
                          {"attention_head_dim", 128}, {"in_channels", Cin}, {"out_channels", Cout},
                          {"text_dim", T}, {"freq_dim", Fr}, {"ffn_dim", F}, {"num_layers", L}, {"eps", 1e-6},
                          {"patch_size", {1, 2, 2}}, {"rope_max_seq_len", 1024},
                          {"qk_norm", "rms_norm_across_heads"}, {"cross_attn_norm", true}, {"image_dim", nullptr},
                          {"added_kv_proj_dim", nullptr}});
  return dir.path();
}

void BM_Inspect14B(benchmark::State& state) {
  qdit::test::TempDir dir;
  const std::string path = make_14b(dir);
  {
    auto plans = qdit::load::plan_checkpoint(path);
    if (plans.size() != 1 || !plans[0].ok() || plans[0].linears.size() != 7 + 40 * 7) {
      state.SkipWithError("the synthetic 14B checkpoint does not plan cleanly");
      return;
    }
  }
  const bool json = state.range(0) != 0;
  for (auto _ : state) {
    auto plans = qdit::load::plan_checkpoint(path);
    std::string out = json ? qdit::load::plans_to_json(plans).dump(2) : qdit::load::plans_to_text(plans);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_Inspect14B)->Arg(0)->Arg(1)->ArgName("json")->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
