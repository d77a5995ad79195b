// A plainly written second implementation of loading.md §2's engine, rule by rule with one regex object each
// and no shortcuts, used as the reference the fast NameMap must agree with.
#pragma once
#include <re2/re2.h>

#include <memory>
#include <string>
#include <vector>

#include "qdit/names/name_map.h"

namespace qdit::testing {

class PlainEngine {
 public:
  explicit PlainEngine(std::vector<NameRule> rules) : rules_(std::move(rules)) {
    for (const NameRule& r : rules_) res_.push_back(std::make_unique<RE2>(r.pattern));
  }
  MappedName map(const std::string& name) const;

 private:
  std::vector<NameRule> rules_;
  std::vector<std::unique_ptr<RE2>> res_;
};

inline MappedName PlainEngine::map(const std::string& name) const {
  const auto& rules = rules_;
  const auto& res = res_;
  MappedName out{name};
  std::vector<bool> fired(rules.size(), false);
  std::vector<std::string> visited{name};
  const size_t max_rounds = std::max<size_t>(8, 2 * rules.size());
  for (size_t round = 0; round < max_rounds; ++round) {
    bool transformed = false;
    for (size_t i = 0; i < rules.size(); ++i) {
      if (fired[i]) continue;
      if (!res[i]->Match(out.name, 0, out.name.size(), RE2::ANCHOR_START, nullptr, 0)) continue;
      std::string next = out.name;
      RE2::GlobalReplace(&next, *res[i], rules[i].replacement);
      if (next == out.name) continue;
      fired[i] = true;
      if (rules[i].num_merged > 0) {
        out.merge_index = rules[i].merge_index;
        out.num_merged = rules[i].num_merged;
      }
      out.name = next;
      transformed = true;
      break;
    }
    if (!transformed) break;
    bool repeated = false;
    for (const std::string& v : visited) repeated |= v == out.name;
    if (repeated) break;
    visited.push_back(out.name);
  }
  out.dropped = out.name.empty();
  return out;
}

}  // namespace qdit::testing
