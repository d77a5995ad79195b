// Ordered regex rename rules with the exact semantics of the reference runtime's name-mapping engine
// (shared/spec/loading.md §2), so that a rule list written for the reference behaves identically here:
//   - a rule "matches" a name when its pattern matches at the start of the name; applying it replaces every
//     non-overlapping match (RE2::GlobalReplace), with back-references \1..\9 in the replacement;
//   - the first rule that has not fired yet for this name, matches, and actually changes the string is applied,
//     then the scan restarts from the first rule; each rule fires at most once per name;
//   - the scan stops when no rule changes the name, when a name repeats (cycle guard), or after
//     max(8, 2 x number of rules) rounds;
//   - an empty result means "drop this tensor"; no match leaves the name unchanged;
//   - a rule with num_merged > 0 is a triple: the tensor is slice merge_index of num_merged slices concatenated
//     along dim 0 into one runtime parameter. If several triples fire, the last one wins.
#pragma once
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace qdit {

struct NameRule {
  std::string pattern;
  std::string replacement;
  int merge_index = -1;  // with num_merged > 0: which slice this name becomes
  int num_merged = 0;    // 0: a plain rename
};

struct MappedName {
  std::string name;
  bool dropped = false;  // an applied rule produced the empty string
  int merge_index = -1;  // from the last triple that fired; -1 when none did
  int num_merged = 0;
};

class NameMap {
 public:
  NameMap() = default;  // identity
  // An invalid pattern, a replacement that refers to a group the pattern lacks, or an inconsistent triple
  // is a bug in a rule list: Internal error naming the rule.
  explicit NameMap(std::vector<NameRule> rules);
  NameMap(std::initializer_list<NameRule> rules) : NameMap(std::vector<NameRule>(rules)) {}
  ~NameMap();
  NameMap(const NameMap&);
  NameMap& operator=(const NameMap&);
  NameMap(NameMap&&) noexcept;
  NameMap& operator=(NameMap&&) noexcept;

  MappedName map(const std::string& name) const;
  const std::vector<NameRule>& rules() const { return rules_; }

  // The round limit of the reference. With fire-once rules a scan can never need more rounds than there are
  // rules, so the limit only guards against a future change of the firing rule; it is exposed for tests.
  static size_t round_limit(size_t rule_count) { return rule_count * 2 > 8 ? rule_count * 2 : 8; }

 private:
  struct Compiled;
  std::vector<NameRule> rules_;
  std::shared_ptr<const Compiled> compiled_;  // immutable after construction, so copies share it
};

// ---- reverse maps of fused (merged) names ---------------------------------------------------------------
// A runtime parameter fused from several canonical tensors has one runtime name for all its slices, so a
// reverse map needs the slice too. Reverse rule lists see it as a tag appended to the name,
// "<runtime name>@<merge_index>", and their merged rules consume the tag, e.g.
//   ^blocks\.(\d+)\.self_attn\.qkv\.(.*)@1$  ->  blocks.\1.attn1.to_k.\2
constexpr char kShardTag = '@';

// "name@i" for merge_index >= 0, else the name unchanged.
std::string shard_tagged(const std::string& runtime_name, int merge_index);

// Maps a runtime name (and its slice, -1 when not fused) back through a reverse map. The result is marked
// dropped when the reverse map drops the name or leaves the shard tag unconsumed: either way it names no
// canonical tensor.
MappedName unmerge(const NameMap& reverse, const std::string& runtime_name, int merge_index);

// Checks unmerge(reverse, forward.map(x)) == x for every name; returns the names that fail (empty = ok).
// A name the forward map drops fails too: a canonical parameter must not vanish on its way to the runtime.
std::vector<std::string> round_trip_failures(const NameMap& forward, const NameMap& reverse,
                                             const std::vector<std::string>& names);

}  // namespace qdit
