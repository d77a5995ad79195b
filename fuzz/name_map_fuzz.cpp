// libFuzzer target for the name-map engine (names/name_map.h) driven by the Wan rule lists (models/wan/rules.h).
// Tensor names come straight from checkpoint headers and descriptions, so any byte string is a possible name.
// Per input:
//   1. the raw bytes are mapped through all four Wan maps; each result must equal a traced, plainly written
//      run of loading.md §2's engine, whose trace shows the work is bounded: each rule fires at most once, so at
//      most one round per rule (well inside NameMap::round_limit), the cycle guard stops on the first repeated
//      name, and the result grows by at most the replacements' total length;
//   2. the reverse maps are asked to unmerge the raw bytes as every slice of a fused layer;
//   3. a well-formed canonical name built from the bytes (a real layer of the schema, a block index and a
//      quantization-style suffix chosen by the input) must round-trip Diffusers <-> native and
//      Diffusers <-> runtime.
#include <re2/re2.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "qdit/core/error.h"
#include "qdit/models/wan/config.h"
#include "qdit/models/wan/rules.h"
#include "qdit/models/wan/schema.h"
#include "qdit/names/name_map.h"

namespace {

struct Trace {
  qdit::MappedName result;
  size_t rounds = 0;               // rules applied
  std::vector<std::string> names;  // every name the scan produced, the input first
};

// One map's rules compiled once, run rule by rule without the engine's RE2::Set shortcut.
class TracedEngine {
 public:
  explicit TracedEngine(const std::vector<qdit::NameRule>& rules) : rules_(rules) {
    RE2::Options quiet;
    quiet.set_log_errors(false);
    for (const qdit::NameRule& r : rules_) {
      patterns_.push_back(std::make_unique<RE2>(r.pattern, quiet));
      growth_bound_ += r.replacement.size();
    }
  }

  Trace run(const std::string& name) const {
    Trace t;
    t.result.name = name;
    t.names.push_back(name);
    std::vector<bool> fired(rules_.size(), false);
    for (size_t round = 0; round < qdit::NameMap::round_limit(rules_.size()); ++round) {
      bool changed = false;
      for (size_t i = 0; i < rules_.size() && !changed; ++i) {
        if (fired[i] || !patterns_[i]->Match(t.result.name, 0, t.result.name.size(), RE2::ANCHOR_START, nullptr, 0)) {
          continue;
        }
        std::string next = t.result.name;
        RE2::GlobalReplace(&next, *patterns_[i], rules_[i].replacement);
        if (next == t.result.name) continue;
        fired[i] = true;
        if (rules_[i].num_merged > 0) {
          t.result.merge_index = rules_[i].merge_index;
          t.result.num_merged = rules_[i].num_merged;
        }
        t.result.name = std::move(next);
        changed = true;
      }
      if (!changed) break;
      ++t.rounds;
      const bool repeated = std::find(t.names.begin(), t.names.end(), t.result.name) != t.names.end();
      t.names.push_back(t.result.name);
      if (repeated) break;
    }
    t.result.dropped = t.result.name.empty();
    return t;
  }

  size_t rule_count() const { return rules_.size(); }
  // Every Wan pattern is anchored at both ends, so a rename replaces the whole name once: the result is at
  // most the input plus the replacement's literal text.
  size_t growth_bound() const { return growth_bound_; }

 private:
  const std::vector<qdit::NameRule>& rules_;
  std::vector<std::unique_ptr<RE2>> patterns_;
  size_t growth_bound_ = 0;
};

struct Checked {
  const qdit::NameMap& map;
  TracedEngine traced;
};

std::vector<Checked>& maps() {
  static std::vector<Checked> all = [] {
    std::vector<Checked> v;
    v.push_back({qdit::wan::wan_native_to_diffusers(), TracedEngine(qdit::wan::native_to_diffusers_rules())});
    v.push_back({qdit::wan::wan_diffusers_to_native(), TracedEngine(qdit::wan::diffusers_to_native_rules())});
    v.push_back({qdit::wan::wan_diffusers_to_runtime(), TracedEngine(qdit::wan::diffusers_to_runtime_rules())});
    v.push_back({qdit::wan::wan_runtime_to_diffusers(), TracedEngine(qdit::wan::runtime_to_diffusers_rules())});
    return v;
  }();
  return all;
}

void check_bounded_and_equal(const Checked& m, const std::string& name) {
  const qdit::MappedName fast = m.map.map(name);
  const Trace t = m.traced.run(name);
  if (fast.name != t.result.name || fast.dropped != t.result.dropped || fast.merge_index != t.result.merge_index ||
      fast.num_merged != t.result.num_merged) {
    std::abort();
  }
  if (t.rounds > m.traced.rule_count() || t.rounds > qdit::NameMap::round_limit(m.traced.rule_count())) std::abort();
  // The cycle guard: only the last name of a scan may repeat an earlier one.
  for (size_t i = 0; i + 1 < t.names.size(); ++i) {
    for (size_t j = i + 1; j + 1 < t.names.size(); ++j) {
      if (t.names[i] == t.names[j]) std::abort();
    }
  }
  if (fast.name.size() > name.size() + m.traced.growth_bound()) std::abort();
  if (fast.num_merged == 0 ? fast.merge_index != -1 : (fast.merge_index < 0 || fast.merge_index >= fast.num_merged)) {
    std::abort();
  }
}

// Every canonical layer (and bare table) of a model that has every kind of parameter: I2V branch and FLF2V
// position embedding, one block (the block index comes from the input).
const std::vector<qdit::wan::ParamDecl>& canonical_params() {
  static const std::vector<qdit::wan::ParamDecl> params = [] {
    qdit::wan::WanConfig c = qdit::wan::released_config("wan2.1-i2v-14b");
    c.num_layers = 1;
    c.image_pos_embed = true;
    return qdit::wan::build_schema(c).params;
  }();
  return params;
}

// A canonical name from the input: a parameter's layer, with "blocks.0." given the input's block index, and a
// suffix of [a-z0-9_] like weight_scale or deq_scale (bare tables keep their name).
std::string structured_name(const uint8_t* data, size_t size) {
  const auto& params = canonical_params();
  if (size < 3) return "";
  const qdit::wan::ParamDecl& p = params[(size_t(data[0]) << 8 | data[1]) % params.size()];
  std::string layer = p.layer;
  if (layer.rfind("blocks.0.", 0) == 0) {
    layer = "blocks." + std::to_string(data[2] * 37u) + layer.substr(std::string("blocks.0").size());
  }
  if (p.role == qdit::wan::ParamRole::Modulation || p.role == qdit::wan::ParamRole::PositionEmbedding) return layer;
  static const char kSuffixChars[] = "abcdefghijklmnopqrstuvwxyz0123456789_";
  std::string suffix;
  for (size_t i = 3; i < size && suffix.size() < 40; ++i) suffix += kSuffixChars[data[i] % (sizeof(kSuffixChars) - 1)];
  if (suffix.empty()) suffix = "weight";
  return layer + "." + suffix;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string raw(reinterpret_cast<const char*>(data), size);
  for (const Checked& m : maps()) check_bounded_and_equal(m, raw);

  // A reverse map never returns a name that still carries a shard tag it was asked to consume.
  for (int slice = -1; slice < 3; ++slice) {
    for (const qdit::NameMap* reverse :
         {&qdit::wan::wan_runtime_to_diffusers(), &qdit::wan::wan_native_to_diffusers()}) {
      const qdit::MappedName back = qdit::unmerge(*reverse, raw, slice);
      if (slice >= 0 && !back.dropped && back.name.find(qdit::kShardTag) != std::string::npos) std::abort();
    }
  }

  const std::string canonical = structured_name(data, size);
  if (!canonical.empty()) {
    using namespace qdit::wan;
    if (!qdit::round_trip_failures(wan_diffusers_to_native(), wan_native_to_diffusers(), {canonical}).empty()) {
      std::abort();
    }
    if (!qdit::round_trip_failures(wan_diffusers_to_runtime(), wan_runtime_to_diffusers(), {canonical}).empty()) {
      std::abort();
    }
    for (const Checked& m : maps()) check_bounded_and_equal(m, canonical);
  }
  return 0;
}
