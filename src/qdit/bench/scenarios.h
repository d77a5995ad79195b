// Benchmark scenarios with recorded baselines (bench/baselines.json), for `qdit bench --scenario ID --check FILE`.
// A scenario is a fixed synthetic benchmark; its baseline is keyed by "<scenario>_<card>" (e.g.
// "wan14b_480p_w8a8dyn_h200"), since figures hold for one kind of card only. A baseline holds the forward time,
// the per-stage times and the peak device memory, with tolerances: slower by more than `slower` (10 %) fails, as
// does a stage taking at least 10 % of the forward that is slower by as much, or peak memory above `memory`
// (5 %) more; faster by more than `faster` (20 %) prints a suggested new baseline.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qdit/bench/synthetic_bench.h"

namespace qdit::bench {

struct Scenario {
  std::string id;  // without the card suffix
  std::string summary;
  SyntheticBenchOptions options;
};
const std::vector<Scenario>& scenarios();

// Accepts "<scenario>" or "<scenario>_<card>"; returns the scenario and its baseline key for `card`. Usage error
// for an unknown scenario or a card suffix naming another card than the one found.
struct ResolvedScenario {
  Scenario scenario;
  std::string key;
};
ResolvedScenario resolve_scenario(const std::string& id, const std::string& card);

struct Tolerance {
  double slower = 0.10;
  double faster = 0.20;
  double memory = 0.05;
};

struct Figures {
  double forward_ms = 0;
  std::map<std::string, double> stages_ms;  // gemm, attention, rest
  double peak_memory_bytes = 0;
};
Figures figures_of(const BenchResult& r);

struct Baseline {
  Figures figures;
  Tolerance tolerance;
};

struct CheckReport {
  bool regressed = false;    // some gated figure is outside its tolerance: exit code 1
  bool much_faster = false;  // forward faster than the baseline by more than `faster`
  std::vector<std::string> lines;
};
CheckReport compare_to_baseline(const Baseline& base, const Figures& now);

// The baselines file: {"scenarios": {"<key>": entry, ...}}. read: Io error for an unreadable file, Checkpoint
// error (naming the file and key) for a malformed one. lookup: nullptr when the key is absent.
nlohmann::json read_baselines(const std::string& path);
Baseline baseline_from_entry(const nlohmann::json& entry, const std::string& path, const std::string& key);
// The entry --update writes: figures, tolerances (the existing entry's, else the defaults), card, CUDA version,
// date and the command.
nlohmann::json baseline_entry(const BenchResult& r, const Scenario& s, const Tolerance& t, const std::string& command);
void write_baselines(const std::string& path, const nlohmann::json& doc);

}  // namespace qdit::bench
