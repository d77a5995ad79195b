#include "qdit/names/name_map.h"

#include <re2/re2.h>

#include <unordered_set>

#include "qdit/core/error.h"

namespace qdit {

struct NameMap::Compiled {
  std::vector<std::unique_ptr<RE2>> patterns;
};

namespace {

std::string describe(size_t index, const NameRule& r) {
  return "name rule #" + std::to_string(index) + " ('" + r.pattern + "' -> '" + r.replacement + "')";
}

void check_triple(size_t index, const NameRule& r) {
  const bool plain = r.num_merged == 0 && r.merge_index == -1;
  const bool triple = r.num_merged > 0 && r.merge_index >= 0 && r.merge_index < r.num_merged;
  if (!plain && !triple) {
    fail_internal(describe(index, r) + " has an invalid merge triple",
                  {.expected = "merge_index in [0, num_merged) with num_merged > 0, or -1 and 0",
                   .found = "merge_index " + std::to_string(r.merge_index) + ", num_merged " +
                            std::to_string(r.num_merged)});
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
  std::unordered_set<std::string> seen{name};
  const size_t limit = round_limit(rules_.size());
  for (size_t round = 0; round < limit; ++round) {
    bool changed = false;
    for (size_t i = 0; i < rules_.size(); ++i) {
      if (fired[i]) continue;
      const RE2& re = *patterns[i];
      // "Matches" is judged at the start of the name only (Python's re.match); the substitution then
      // replaces every non-overlapping match anywhere (re.sub), which RE2::GlobalReplace reproduces.
      if (!re.Match(out.name, 0, out.name.size(), RE2::ANCHOR_START, nullptr, 0)) continue;
      std::string next = out.name;
      RE2::GlobalReplace(&next, re, rules_[i].replacement);
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
    if (!seen.insert(out.name).second) break;  // cycle guard: this name was already visited
  }
  out.dropped = out.name.empty();
  return out;
}

}  // namespace qdit
