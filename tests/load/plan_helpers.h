// Small helpers shared by the load tests (header-only: only *_test.cpp files are compiled).
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "load/tiny_wan.h"
#include "qdit/io/checkpoint_layout.h"
#include "qdit/load/plan.h"

namespace qdit::test {

inline load::ComponentPlan plan_dir(const std::string& dir) {
  CheckpointLayout l = detect_layout(dir);
  EXPECT_EQ(l.components.size(), 1u);
  return load::plan_component(l.components.at(0));
}

inline const load::LinearPlan* layer(const load::ComponentPlan& p, const std::string& runtime) {
  for (const auto& l : p.linears)
    if (l.runtime == runtime) return &l;
  return nullptr;
}

inline std::string all_problems(const load::ComponentPlan& p) {
  std::string s;
  for (const auto& x : p.problems) s += std::string(load::severity_name(x.severity)) + ": " + x.text() + "\n";
  return s;
}

// The problems whose message contains `needle`.
inline std::vector<const load::Problem*> problems_with(const load::ComponentPlan& p, const std::string& needle) {
  std::vector<const load::Problem*> out;
  for (const auto& x : p.problems)
    if (x.message.find(needle) != std::string::npos) out.push_back(&x);
  return out;
}

}  // namespace qdit::test
