// The load plan of one model component: which checkpoint tensor fills which model parameter, under which
// scheme, with which conversion, and every problem found on the way. Planning reads safetensors headers, the
// description and config.json only (plus, for static W8A8 fused layers, the few scalar activation parameters the
// shards must share), so `qdit inspect` on a 28 GB checkpoint takes milliseconds. The loader executes a plan and
// makes no decision the plan did not record: what `inspect` reports is what `run` loads.
//
// Names. Checkpoint tensors are renamed once to canonical (Diffusers) names through the Wan rule list of the
// file's namespace; the description's keys go through the same map (the description may be in native names, as
// raw msModelSlim output is, or in Diffusers names, as repacked checkpoints are). Scheme lookup, the FLOAT skip
// and tensor binding all use those canonical names, so no consumer ever looks anything up in another namespace.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qdit/core/error.h"
#include "qdit/io/checkpoint_layout.h"
#include "qdit/io/tensor_store.h"
#include "qdit/models/wan/config.h"
#include "qdit/quant/description.h"
#include "qdit/quant/scheme.h"

namespace qdit::load {

enum class Severity : uint8_t { Error, Warning };
const char* severity_name(Severity s);  // "error" / "warning"

// One finding. `where` carries the file, the tensor in the file's name and its canonical name, the layer, the
// scheme and expected vs found, exactly as a thrown qdit::Error would.
struct Problem {
  Severity severity = Severity::Error;
  std::string message;
  ErrorContext where;
  std::string text() const { return format_error(message, where); }
};

// A checkpoint tensor the plan uses.
struct BoundTensor {
  StoredTensor stored;    // the mmap'd file and its header entry (shared with the loader)
  std::string name;       // as written in the file
  std::string canonical;  // Diffusers name
  const std::string& file() const { return stored.file->path(); }
  const TensorInfo& info() const { return *stored.info; }
};

// One declared tensor of a layer's scheme, bound or (when optional) absent.
struct BoundParam {
  const quant::ParamSpec* spec = nullptr;  // points into quant::scheme_decls(), which lives forever
  std::optional<BoundTensor> tensor;
};

// One checkpoint layer: a whole runtime linear, or one slice of a fused one.
struct ShardPlan {
  std::string canonical;    // canonical layer name, no ".weight"
  std::string checkpoint;   // the layer's name as written in the file
  std::string type_string;  // the description's type of "<layer>.weight" ("FLOAT" without a description)
  std::string type_key;     // the description key it came from, "" when none
  int64_t out_features = 0;
  int64_t in_features = 0;
  Shape weight_shape;       // as stored, for the report ([] when the weight is missing)
  DType weight_dtype = DType::F32;
  std::vector<BoundParam> params;  // in the scheme's declaration order (empty when the scheme is unresolved)
  const BoundParam* param(std::string_view suffix) const;
};

// One runtime linear layer (a QuantLinear of wan::WanWeights).
struct LinearPlan {
  std::string runtime;            // qdit name, e.g. "blocks.0.self_attn.qkv"
  int64_t out_features = 0;       // N of the whole layer (sum over shards)
  int64_t in_features = 0;        // K
  std::optional<SchemeId> scheme; // nullopt when it could not be resolved (an error says why)
  std::string type_string;        // what the description says (shared by every shard when they agree)
  // Static W8A8 with a float bias: the bias is consumed for the accounting but not applied, because
  // msModelSlim already folded it into quant_bias.
  bool bias_folded = false;
  std::vector<ShardPlan> shards;  // in merge order (one entry for an unfused layer)
  std::string canonical_names() const;   // "a|b|c"
  std::string checkpoint_names() const;  // same, in the file's names
};

// A parameter that is not part of a linear layer: norms, modulation tables.
struct ParamPlan {
  std::string canonical;
  Shape shape;                        // as the model declares it
  std::optional<BoundTensor> tensor;  // nullopt when missing (an error says so)
};

struct ComponentPlan {
  ComponentFiles files;
  std::shared_ptr<const TensorStore> store;  // null when the weight files could not be opened
  wan::WanConfig config;
  bool config_ok = false;
  std::string checkpoint_namespace;   // "diffusers" or "native"
  std::string description_namespace;  // same, "" without a description
  std::optional<quant::Description> description;
  std::vector<LinearPlan> linears;
  std::vector<ParamPlan> params;
  std::vector<Problem> problems;
  size_t tensor_count = 0;  // tensors in the weight files

  size_t error_count() const;
  size_t warning_count() const;
  bool ok() const { return error_count() == 0; }
};

// Plans one component. Never throws for a checkpoint problem: everything is collected into `problems`.
ComponentPlan plan_component(const ComponentFiles& files);

// detect_layout(path) and a plan per component (each transformer of a pipeline, each expert of raw output).
// Throws only when the path itself cannot be recognised (Io / Checkpoint error).
std::vector<ComponentPlan> plan_checkpoint(const std::string& path);

}  // namespace qdit::load
