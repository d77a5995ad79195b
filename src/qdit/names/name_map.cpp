#include "qdit/names/name_map.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>

#include "qdit/core/error.h"

namespace qdit {

struct NameMap::Compiled {
  std::vector<std::unique_ptr<RE2>> patterns;
  // All patterns in one automaton: one pass over a name tells which rules match at its start, instead of
  // one pass per rule (a 14B checkpoint has thousands of names and the lists have ~30 rules). Null when RE2
  // cannot build it; matching then asks each pattern in turn, with the same result.
  std::unique_ptr<RE2::Set> set;

  // Indices of the rules whose pattern matches at the start of `name`, ascending.
  void matching_rules(const std::string& name, std::vector<int>& out) const {
    out.clear();
    if (set) {
      RE2::Set::ErrorInfo info{RE2::Set::kNoError};
      if (set->Match(name, &out, &info) || info.kind == RE2::Set::kNoError) {
        std::sort(out.begin(), out.end());
        return;
      }
      out.clear();  // the automaton ran out of memory for this name: ask each pattern
    }
    for (size_t i = 0; i < patterns.size(); ++i) {
      if (patterns[i]->Match(name, 0, name.size(), RE2::ANCHOR_START, nullptr, 0)) out.push_back(int(i));
    }
  }
};

namespace {

std::string describe(size_t index, const NameRule& r) {
  return "name rule #" + std::to_string(index) + " ('" + r.pattern + "' -> '" + r.replacement + "')";
}

void check_triple(size_t index, const NameRule& r) {
  const bool plain = r.num_merged == 0 && r.merge_index == -1;
  const bool triple = r.num_merged > 0 && r.merge_index >= 0 && r.merge_index < r.num_merged;
  if (!plain && !triple) {
    ErrorContext c;
    c.expected = "merge_index in [0, num_merged) with num_merged > 0, or -1 and 0";
    c.found = "merge_index " + std::to_string(r.merge_index) + ", num_merged " + std::to_string(r.num_merged);
    fail_internal(describe(index, r) + " has an invalid merge triple", c);
  }
}

}  // namespace

NameMap::NameMap(std::vector<NameRule> rules) : rules_(std::move(rules)) {
  auto compiled = std::make_shared<Compiled>();
  RE2::Options options;
  options.set_log_errors(false);
  for (size_t i = 0; i < rules_.size(); ++i) {
    const NameRule& r = rules_[i];
    auto re = std::make_unique<RE2>(r.pattern, options);
    if (!re->ok()) fail_internal(describe(i, r) + " has an invalid pattern: " + re->error());
    std::string why;
    if (!re->CheckRewriteString(r.replacement, &why)) {
      fail_internal(describe(i, r) + " has an invalid replacement: " + why);
    }
    check_triple(i, r);
    compiled->patterns.push_back(std::move(re));
  }
  auto set = std::make_unique<RE2::Set>(options, RE2::ANCHOR_START);
  bool set_ok = true;
  for (size_t i = 0; i < rules_.size() && set_ok; ++i) set_ok = set->Add(rules_[i].pattern, nullptr) == int(i);
  if (set_ok && !rules_.empty() && set->Compile()) compiled->set = std::move(set);
  compiled_ = std::move(compiled);
}

NameMap::~NameMap() = default;
NameMap::NameMap(const NameMap&) = default;
NameMap& NameMap::operator=(const NameMap&) = default;
NameMap::NameMap(NameMap&&) noexcept = default;
NameMap& NameMap::operator=(NameMap&&) noexcept = default;

MappedName NameMap::map(const std::string& name) const {
  MappedName out;
  out.name = name;
  if (rules_.empty()) return out;

  const auto& patterns = compiled_->patterns;
  std::vector<bool> fired(rules_.size(), false);
  std::vector<std::string> seen{name};  // a handful at most: one per fired rule
  std::vector<int> candidates;
  const size_t limit = round_limit(rules_.size());
  for (size_t round = 0; round < limit; ++round) {
    // "Matches" is judged at the start of the name only (Python's re.match); the substitution then
    // replaces every non-overlapping match anywhere (re.sub), which RE2::GlobalReplace reproduces.
    compiled_->matching_rules(out.name, candidates);
    bool changed = false;
    for (int i : candidates) {
      if (fired[i]) continue;
      std::string next = out.name;
      RE2::GlobalReplace(&next, *patterns[i], rules_[i].replacement);
      if (next == out.name) continue;
      fired[i] = true;
      if (rules_[i].num_merged > 0) {
        out.merge_index = rules_[i].merge_index;
        out.num_merged = rules_[i].num_merged;
      }
      out.name = std::move(next);
      changed = true;
      break;
    }
    if (!changed) break;
    if (std::find(seen.begin(), seen.end(), out.name) != seen.end()) break;  // cycle guard
    seen.push_back(out.name);
  }
  out.dropped = out.name.empty();
  return out;
}

}  // namespace qdit
