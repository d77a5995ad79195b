// Renders load plans for people (`qdit inspect`) and for programs (`qdit inspect --json`). Both read the same
// plan the loader executes, so what is printed is what would be loaded.
//
// JSON shape (issue 2):
//   {"ok": bool, "components": [{"name", "path", "layout", "architecture": "wan", "variant",
//     "checkpoint_namespace", "description", "description_namespace",
//     "layers": [{"name", "canonical", "checkpoint", "scheme", "weight_dtype", "weight_shape", "out_features",
//                 "in_features", "bias_folded", "shards": [{"canonical", "checkpoint", "type",
//                 "tensors": [{"suffix", "name", "dtype", "shape"}]}]}],
//     "summary": {"layers_per_scheme", "bytes_per_dtype", "float_layers", "float_params", "tensors"},
//     "problems": [{"severity", "message", "tensor", "canonical", "file", "layer", "scheme", "expected", "found"}]}]}
// For a fused layer, "canonical" and "checkpoint" join the shards' names with '|'; "weight_shape" is the runtime
// [N, K]; each shard lists the shapes as stored.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qdit/load/plan.h"

namespace qdit::load {

struct PlanSummary {
  std::map<std::string, int64_t> layers_per_scheme;  // runtime layers by scheme ("UNRESOLVED" when none)
  std::map<std::string, uint64_t> bytes_per_dtype;   // over every tensor of the weight files
  std::vector<std::string> float_layers;             // runtime linears that stay float
  int64_t float_params = 0;                          // norms and modulation tables (always float)
  size_t tensors = 0;
};
PlanSummary summarize(const ComponentPlan& plan);

nlohmann::json plan_to_json(const ComponentPlan& plan);
// {"ok": ..., "components": [...]}; ok is false when any component has an error.
nlohmann::json plans_to_json(const std::vector<ComponentPlan>& plans);

// Human output: a header per component, one line per linear layer (qdit name, canonical name, name in the file,
// scheme, weight dtype and shape), the summary, then every problem.
std::string plan_to_text(const ComponentPlan& plan);
std::string plans_to_text(const std::vector<ComponentPlan>& plans);

}  // namespace qdit::load
