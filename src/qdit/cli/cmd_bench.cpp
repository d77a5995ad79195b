// qdit bench: a synthetic Wan DiT forward timed on the device (random weights made there), or a named scenario
// compared with its recorded baseline (src/qdit/bench/).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <optional>

#include "qdit/bench/scenarios.h"
#include "qdit/bench/synthetic_bench.h"
#include "qdit/bench/synthetic_model.h"
#include "qdit/cli/cli11_parse.h"
#include "qdit/cli/commands.h"
#include "qdit/core/error.h"

namespace qdit::cli {

namespace {

[[noreturn]] void bad_value(const std::string& flag, const std::string& expected, const std::string& found) {
  ErrorContext c;
  c.expected = expected;
  c.found = "'" + found + "'";
  fail_usage("bad " + flag, c);
}

void log_line(const std::string& s) { std::fprintf(stderr, "qdit bench: %s\n", s.c_str()); }

void write_json_file(const std::string& path, const nlohmann::json& j) {
  std::ofstream f(path);
  f << j.dump(2) << "\n";
  if (!f) {
    ErrorContext c;
    c.file = path;
    fail_io("cannot write --out", c);
  }
}

std::string joined(const Args& args) {
  std::string s = "qdit bench";
  for (const auto& a : args) s += " " + a;
  return s;
}

int run_scenario(const std::string& id, const std::string& check, bool update, bool json, const std::string& out,
                 const Args& args) {
  if (!bench::cuda_available()) fail_usage("benchmark scenarios run on a GPU; no CUDA device is available here");
  const bench::DeviceFacts dev = bench::device_facts(Device::CUDA);
  const bench::ResolvedScenario rs = bench::resolve_scenario(id, dev.card);
  log_line("scenario " + rs.key + ": " + rs.scenario.summary);
  // Read the baselines before the run, so a malformed file fails in seconds rather than after the benchmark.
  nlohmann::json doc = nlohmann::json{{"scenarios", nlohmann::json::object()}};
  const bool have_file = !check.empty() && (!update || std::ifstream(check).good());
  if (have_file) doc = bench::read_baselines(check);
  const nlohmann::json* entry = doc["scenarios"].contains(rs.key) ? &doc["scenarios"][rs.key] : nullptr;
  std::optional<bench::Baseline> base;
  if (entry) base = bench::baseline_from_entry(*entry, check, rs.key);

  const bench::BenchResult r = bench::run_synthetic_bench(rs.scenario.options, log_line);
  nlohmann::json rj = bench::result_json(r);
  rj["scenario"] = rs.key;
  if (json)
    std::printf("%s\n", rj.dump(2).c_str());
  else
    bench::print_result(r, stdout);
  if (!out.empty()) write_json_file(out, rj);

  int code = 0;
  const bench::Tolerance tol = base ? base->tolerance : bench::Tolerance{};
  const nlohmann::json new_entry = bench::baseline_entry(r, rs.scenario, tol, joined(args));
  if (base) {
    const bench::CheckReport rep = bench::compare_to_baseline(*base, bench::figures_of(r));
    std::printf("baseline %s (%s):\n", rs.key.c_str(), check.c_str());
    for (const auto& l : rep.lines) std::printf("  %s\n", l.c_str());
    if (rep.much_faster && !update)
      std::printf("faster than the baseline by more than %.0f %%: suggested new baseline (--update writes it):\n\"%s\": %s\n",
                  100.0 * tol.faster, rs.key.c_str(), new_entry.dump(2).c_str());
    if (rep.regressed && !update) {
      std::printf("REGRESSION: %s is outside its baseline's tolerance\n", rs.key.c_str());
      code = 1;
    } else if (!rep.regressed) {
      std::printf("ok: %s within its baseline's tolerance\n", rs.key.c_str());
    }
  } else if (!check.empty() && !update) {
    std::printf("no baseline for %s in %s (--update records this run as one)\n", rs.key.c_str(), check.c_str());
    code = 1;
  }
  if (update) {
    if (check.empty()) fail_usage("--update needs --check FILE (the baselines file to write)");
    doc["scenarios"][rs.key] = new_entry;
    bench::write_baselines(check, doc);
    std::printf("recorded %s as the baseline of %s in %s\n", base ? "this run" : "this run (new)", rs.key.c_str(),
                check.c_str());
  }
  return code;
}

}  // namespace

int cmd_bench(const Args& args) {
  CLI::App app(
      "Times Wan DiT forwards on random weights made on the device (--synthetic), or runs a benchmark scenario and "
      "compares it with its recorded baseline (--scenario ID --check bench/baselines.json).",
      "bench");
  bool synthetic = false, list = false, json = false, update = false, no_ceilings = false;
  std::string scenario, check, out, scheme = "w8a8_dynamic", device, precision = "bf16", qk = "as-precision";
  bench::SyntheticBenchOptions o;
  auto* f_syn = app.add_flag("--synthetic", synthetic, "time a forward of a random-weight model");
  auto* f_sc = app.add_option("--scenario", scenario, "run a scenario (--list shows them)");
  auto* f_list = app.add_flag("--list", list, "list the scenarios");
  std::vector<CLI::Option*> synthetic_only = {
      app.add_option("--variant", o.variant,
                     "wan2.1-t2v-1.3b, wan2.1-t2v-14b (default), wan2.1-i2v-14b, wan2.2-t2v-a14b, wan2.2-i2v-a14b, "
                     "wan2.2-ti2v-5b"),
      app.add_option("--scheme", scheme,
                     "float, w8a8, w8a8_dynamic (default), w4a4_dynamic, w4a8_dynamic, w8a16: quantizable layers"),
      app.add_option("--exclude", o.excludes, "keep layers matching this glob on canonical names in float (repeatable), "
                                              "e.g. '*ffn.net.2*'"),
      app.add_option("--frames", o.frames, "video frames (default 81)"),
      app.add_option("--height", o.height, "video height in pixels (default 480)"),
      app.add_option("--width", o.width, "video width in pixels (default 832)"),
      app.add_option("--device", device, "cuda (default when a GPU is present) or cpu"),
      app.add_option("--precision", precision, "bf16 (default) or fp32"),
      app.add_option("--layers", o.layers, "transformer blocks (default: the variant's)"),
      app.add_option("--repeat", o.repeat, "timed forwards (default 3)"),
      app.add_option("--warmup", o.warmup, "untimed forwards first (default 1)"),
      app.add_option("--text-tokens", o.text_tokens, "valid text tokens (default 512)"),
      app.add_option("--seed", o.seed, "random seed (default 1)"),
      app.add_flag("--no-ceilings", no_ceilings, "skip measuring the copy and bf16 GEMM ceilings"),
      app.add_option("--self-attention-qk", qk,
                     "as-precision (default), int8 (int8 q.k^T in self-attention) or int8-e4m3pv (int8 q.k^T and "
                     "e4m3 P.V); CUDA, bf16, head_dim 128"),
  };
  auto* f_check = app.add_option("--check", check, "with --scenario: baselines file to compare with");
  auto* f_update = app.add_flag("--update", update, "with --scenario --check: record this run as the baseline");
  app.add_flag("--json", json, "print the result as JSON");
  app.add_option("--out", out, "also write the result as JSON to this file");
  int code = 0;
  if (!parse_or_usage(app, args, code)) return code;

  if (int(f_syn->count() > 0) + int(f_sc->count() > 0) + int(f_list->count() > 0) != 1) fail_usage("give exactly one of --synthetic, --scenario ID, --list");
  if (list) {
    for (const auto& s : bench::scenarios()) std::printf("%-24s %s\n", s.id.c_str(), s.summary.c_str());
    return 0;
  }
  if (!scenario.empty()) {
    for (CLI::Option* opt : synthetic_only)
      if (opt->count() > 0) fail_usage(opt->get_name() + " does not go with --scenario (a scenario fixes its settings)");
    return run_scenario(scenario, check, update, json, out, args);
  }
  if (f_check->count() > 0 || f_update->count() > 0) fail_usage("--check and --update go with --scenario");
  o.scheme = bench::parse_bench_scheme(scheme);
  if (device.empty()) device = bench::cuda_available() ? "cuda" : "cpu";
  if (device == "cuda")
    o.device = Device::CUDA;
  else if (device == "cpu")
    o.device = Device::CPU;
  else
    bad_value("--device", "cuda or cpu", device);
  if (precision == "bf16")
    o.precision = ops::Precision::BF16;
  else if (precision == "fp32")
    o.precision = ops::Precision::FP32;
  else
    bad_value("--precision", "bf16 or fp32", precision);
  if (!ops::attention_qk_from_name(qk, o.self_attention_qk))
    bad_value("--self-attention-qk", ops::attention_qk_choices(), qk);
  // (Every Wan variant qdit bench builds has head_dim 128.)
  if (!ops::attention_qk_available(o.self_attention_qk, o.device, o.precision, 128))
    fail_usage(std::string("--self-attention-qk ") + qk +
               " is a CUDA kernel for bf16 precision: give --device cuda --precision bf16");
  o.ceilings = !no_ceilings && o.device == Device::CUDA;
  if (o.device == Device::CUDA && !bench::cuda_available())
    fail_usage("--device cuda: no CUDA device is available (or qdit was built without the CUDA backend)");
  const bench::BenchResult r = bench::run_synthetic_bench(o, log_line);
  const nlohmann::json rj = bench::result_json(r);
  if (json)
    std::printf("%s\n", rj.dump(2).c_str());
  else
    bench::print_result(r, stdout);
  if (!out.empty()) write_json_file(out, rj);
  return 0;
}

}  // namespace qdit::cli
