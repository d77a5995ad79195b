#include "qdit/load/plan.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "qdit/models/wan/rules.h"
#include "qdit/models/wan/schema.h"
#include "qdit/quant/types.h"

namespace qdit::load {

namespace {

using quant::ParamSpec;
using quant::SchemeDecl;

// A checkpoint tensor on its way through the plan.
struct FileTensor {
  std::string name;
  std::string canonical;
  StoredTensor stored;
  bool used = false;
};

// The canonical layer a tensor name belongs to: the name without its last component.
std::string parent_of(const std::string& name) {
  size_t dot = name.rfind('.');
  return dot == std::string::npos ? std::string() : name.substr(0, dot);
}

bool is_float_dtype(DType t) { return t == DType::F32 || t == DType::BF16 || t == DType::F16; }

std::string types_of_shards(const std::vector<ShardPlan>& shards) {
  std::string out;
  for (const auto& s : shards) {
    if (!out.empty()) out += ", ";
    out += s.canonical + ": " + (s.type_string.empty() ? "<none>" : s.type_string);
  }
  return out;
}

class Planner {
 public:
  explicit Planner(ComponentPlan& plan) : plan_(plan) {}

  void run();

 private:
  void error(std::string message, ErrorContext where) {
    plan_.problems.push_back({Severity::Error, std::move(message), std::move(where)});
  }
  void warning(std::string message, ErrorContext where) {
    plan_.problems.push_back({Severity::Warning, std::move(message), std::move(where)});
  }
  ErrorContext at_tensor(const FileTensor& t) const {
    ErrorContext c;
    c.file = t.stored.file->path();
    c.tensor = t.name;
    c.canonical = t.canonical;
    return c;
  }

  bool load_inputs();
  bool map_checkpoint_names();
  bool map_description();
  void plan_linears();
  void resolve_scheme(LinearPlan& lp);
  void bind_shard(ShardPlan& shard, const SchemeDecl& decl, SchemeId id);
  void check_shard_shape(ShardPlan& shard, const ParamSpec& spec, const FileTensor& t, const SchemeDecl& decl);
  void check_shared_activation_params(LinearPlan& lp);
  void claim_layer_tensors(const std::string& canonical_layer);
  void plan_params();
  void account();

  FileTensor* find(const std::string& canonical) {
    auto it = by_canonical_.find(canonical);
    return it == by_canonical_.end() ? nullptr : &tensors_[it->second];
  }
  // The description's type for a canonical tensor name, and the key it was written under.
  const std::pair<std::string, std::string>* described(const std::string& canonical) const {
    auto it = desc_by_canonical_.find(canonical);
    return it == desc_by_canonical_.end() ? nullptr : &it->second;
  }
  std::string file_name_for(const std::string& checkpoint_layer, std::string_view suffix) const {
    return checkpoint_layer + "." + std::string(suffix);
  }

  ComponentPlan& plan_;
  wan::WanSchema schema_;
  std::vector<FileTensor> tensors_;
  std::unordered_map<std::string, size_t> by_canonical_;
  std::unordered_map<std::string, std::vector<size_t>> by_layer_;  // canonical layer -> its tensors
  // canonical tensor name -> (type string, description key as written)
  std::unordered_map<std::string, std::pair<std::string, std::string>> desc_by_canonical_;
  std::unordered_set<std::string> linear_layers_;               // canonical names of every linear shard
  std::unordered_map<std::string, const wan::ParamDecl*> param_decls_;  // canonical -> declaration
};

bool Planner::load_inputs() {
  const ComponentFiles& f = plan_.files;
  ErrorContext cfg;
  cfg.file = f.config_file.empty() ? f.dir : f.config_file;
  if (f.config_file.empty()) {
    cfg.expected = "a config.json (Diffusers or native Wan form) beside the weights";
    cfg.found = "none";
    error("cannot size the model: no config.json", cfg);
  } else {
    try {
      plan_.config = wan::parse_wan_config_file(f.config_file);
      plan_.config_ok = true;
    } catch (const Error& e) {
      plan_.problems.push_back({Severity::Error, e.message(), e.context()});
    }
  }

  try {
    auto store = f.index_file.empty() ? TensorStore::open(f.weight_files)
                                      : TensorStore::open_with_index(f.weight_files, f.index_file);
    plan_.store = std::make_shared<const TensorStore>(std::move(store));
    for (const auto& w : plan_.store->index_warnings()) {
      ErrorContext c;
      c.file = f.index_file;
      warning(w, c);
    }
  } catch (const Error& e) {
    plan_.problems.push_back({Severity::Error, e.message(), e.context()});
  }

  if (!f.description_file.empty()) {
    try {
      plan_.description = quant::parse_description_file(f.description_file);
    } catch (const Error& e) {
      plan_.problems.push_back({Severity::Error, e.message(), e.context()});
    }
  }
  // Without sizes, tensors or (when one exists) a readable description, nothing below can be decided.
  return plan_.config_ok && plan_.store && (f.description_file.empty() || plan_.description);
}

bool Planner::map_checkpoint_names() {
  std::vector<std::string> names = plan_.store->names();
  plan_.tensor_count = names.size();
  const std::string first_file = plan_.files.weight_files.empty() ? plan_.files.dir : plan_.files.weight_files.front();
  wan::WanNamespace ns;
  try {
    ns = wan::detect_wan_namespace(names, first_file);
  } catch (const Error& e) {
    plan_.problems.push_back({Severity::Error, e.message(), e.context()});
    return false;
  }
  plan_.checkpoint_namespace = ns == wan::WanNamespace::Native ? "native" : "diffusers";

  tensors_.reserve(names.size());
  for (const auto& n : names) {
    FileTensor t;
    t.name = n;
    t.stored = *plan_.store->find(n);
    if (ns == wan::WanNamespace::Native) {
      MappedName m = wan::wan_native_to_diffusers().map(n);
      if (m.dropped) {
        t.used = true;  // reported here; nothing else may claim it
        warning("unused tensor: the name map drops it", at_tensor(t));
        continue;
      }
      t.canonical = std::move(m.name);
    } else {
      t.canonical = n;
    }
    auto [it, fresh] = by_canonical_.emplace(t.canonical, tensors_.size());
    if (!fresh) {
      ErrorContext c = at_tensor(t);
      c.expected = "one tensor per canonical name";
      c.found = "also '" + tensors_[it->second].name + "' in " + tensors_[it->second].stored.file->path();
      error("two checkpoint tensors map to the same canonical name", c);
      continue;
    }
    by_layer_[parent_of(t.canonical)].push_back(tensors_.size());
    tensors_.push_back(std::move(t));
  }
  return true;
}

bool Planner::map_description() {
  if (!plan_.description) return true;
  const quant::Description& d = *plan_.description;
  std::vector<std::string> keys;
  keys.reserve(d.entries.size());
  for (const auto& [k, v] : d.entries) keys.push_back(k);
  std::sort(keys.begin(), keys.end());  // deterministic messages, whatever the hash order
  if (keys.empty()) {
    plan_.description_namespace = plan_.checkpoint_namespace;  // nothing to map
    return true;
  }
  wan::WanNamespace ns;
  try {
    ns = wan::detect_wan_namespace(keys, d.path);
  } catch (const Error& e) {
    plan_.problems.push_back({Severity::Error, e.message(), e.context()});
    return false;
  }
  plan_.description_namespace = ns == wan::WanNamespace::Native ? "native" : "diffusers";

  for (const auto& key : keys) {
    const std::string& type = d.entries.at(key);
    ErrorContext c;
    c.file = d.path;
    c.tensor = key;
    std::string canonical = key;
    if (ns == wan::WanNamespace::Native) {
      MappedName m = wan::wan_native_to_diffusers().map(key);
      if (m.dropped) continue;  // the matching tensor (if any) is reported as dropped
      canonical = std::move(m.name);
    }
    c.canonical = canonical;
    if (quant::classify_type(type).cls == quant::TypeClass::Unknown) {
      c.expected = "a ModelSlim type string (FLOAT, W8A8, W8A8_DYNAMIC, ...)";
      c.found = "'" + type + "'";
      error("unknown quantization type in the description", c);
    }
    if (!by_canonical_.count(canonical)) warning("the description names a tensor that is not in the weight files", c);
    desc_by_canonical_[canonical] = {type, key};
  }
  return true;
}

void Planner::plan_linears() {
  // Group the schema's linear declarations by runtime layer, shards in merge order.
  std::map<std::string, std::vector<const wan::LinearDecl*>> by_runtime;
  std::vector<std::string> order;
  for (const auto& l : schema_.linears) {
    auto& v = by_runtime[l.runtime];
    if (v.empty()) order.push_back(l.runtime);
    v.push_back(&l);
  }
  for (const auto& runtime : order) {
    auto decls = by_runtime[runtime];
    std::sort(decls.begin(), decls.end(),
              [](const wan::LinearDecl* a, const wan::LinearDecl* b) { return a->merge_index < b->merge_index; });
    LinearPlan lp;
    lp.runtime = runtime;
    lp.in_features = decls.front()->in_features;
    for (const auto* d : decls) {
      ShardPlan s;
      s.canonical = d->canonical;
      s.out_features = d->out_features;
      s.in_features = d->in_features;
      lp.out_features += d->out_features;
      lp.shards.push_back(std::move(s));
    }
    resolve_scheme(lp);
    plan_.linears.push_back(std::move(lp));
  }
}

void Planner::resolve_scheme(LinearPlan& lp) {
  // Every shard's scheme comes from "<canonical layer>.weight" alone (modelslim-format.md §1.3).
  for (auto& s : lp.shards) {
    const std::string weight = s.canonical + ".weight";
    const FileTensor* w = find(weight);
    if (w) {
      s.checkpoint = parent_of(w->name);
      s.weight_shape = w->stored.info->shape;
      s.weight_dtype = w->stored.info->dtype;
    } else if (plan_.checkpoint_namespace == "native") {
      // No weight to read the spelling from: name it as a native file would.
      s.checkpoint = parent_of(wan::wan_diffusers_to_native().map(weight).name);
    } else {
      s.checkpoint = s.canonical;
    }
    if (!plan_.description) {
      s.type_string = "FLOAT";
      continue;
    }
    if (const auto* t = described(weight)) {
      s.type_string = t->first;
      s.type_key = t->second;
    }
  }

  auto fail_layer = [&](std::string message, ErrorContext c) {
    error(std::move(message), std::move(c));
    for (const auto& s : lp.shards) claim_layer_tensors(s.canonical);
  };

  for (const auto& s : lp.shards) {
    if (!s.type_string.empty()) continue;
    ErrorContext c;
    c.file = plan_.description->path;
    c.tensor = s.checkpoint + ".weight";
    c.canonical = s.canonical + ".weight";
    c.layer = s.canonical;
    c.expected = "an entry '" + c.tensor + "' giving the layer's type";
    c.found = "none";
    fail_layer("no scheme for layer: the description has no entry for its weight", c);
    return;
  }
  for (const auto& s : lp.shards) {
    if (s.type_string == lp.shards.front().type_string) continue;
    ErrorContext c;
    c.file = plan_.description->path;
    c.layer = lp.runtime;
    c.expected = "one scheme for every shard of the fused layer " + lp.runtime;
    c.found = types_of_shards(lp.shards);
    fail_layer("fused shards disagree on the scheme", c);
    return;
  }
  lp.type_string = lp.shards.front().type_string;

  quant::TypeInfo info = quant::classify_type(lp.type_string);
  ErrorContext c;
  c.file = plan_.description ? plan_.description->path : "";
  c.tensor = lp.shards.front().checkpoint + ".weight";
  c.canonical = lp.shards.front().canonical + ".weight";
  c.layer = lp.shards.front().canonical;
  c.scheme = lp.type_string;
  if (info.cls != quant::TypeClass::Runnable) {
    // Unknown strings were already reported at the description entry; still say what it means for this layer.
    fail_layer(quant::not_supported_message(lp.type_string, info), c);
    return;
  }
  const SchemeDecl& decl = quant::scheme_decl(info.scheme);
  if (decl.requires_version_1 && !plan_.description->is_version_1()) {
    c.expected = "description \"version\": \"1.0.0\" (weights packed along N, per-channel scales)";
    c.found = plan_.description->version ? "version \"" + *plan_.description->version + "\"" : "no version";
    fail_layer("recognised, not supported yet: legacy W4A8_DYNAMIC (two-stage per-group, unpacked)", c);
    return;
  }
  if (decl.has_per_group_form && plan_.description && plan_.description->group_size > 0) {
    c.expected = "per-channel quantization (group_size 0)";
    c.found = "group_size " + std::to_string(plan_.description->group_size);
    fail_layer("recognised, not supported yet: per-group " + lp.type_string, c);
    return;
  }

  lp.scheme = info.scheme;
  size_t errors_before = plan_.problems.size();
  for (auto& s : lp.shards) bind_shard(s, decl, info.scheme);
  bool bound_cleanly = true;
  for (size_t i = errors_before; i < plan_.problems.size(); ++i)
    if (plan_.problems[i].severity == Severity::Error) bound_cleanly = false;
  if (info.scheme == SchemeId::W8A8) {
    for (const auto& s : lp.shards)
      if (const BoundParam* b = s.param("bias"); b && b->tensor) lp.bias_folded = true;
    if (bound_cleanly && lp.shards.size() > 1) check_shared_activation_params(lp);
  }
}

void Planner::bind_shard(ShardPlan& shard, const SchemeDecl& decl, SchemeId id) {
  for (const auto& spec : decl.params) {
    BoundParam bp;
    bp.spec = &spec;
    const std::string canonical = shard.canonical + "." + std::string(spec.suffix);
    FileTensor* t = find(canonical);
    ErrorContext c;
    c.layer = shard.canonical;
    c.scheme = decl.name;
    c.canonical = canonical;
    c.tensor = file_name_for(shard.checkpoint, spec.suffix);
    if (!t) {
      // A float model parameter the schema declares (a linear's bias) must be loaded unless the scheme folds it.
      const bool model_needs_it = param_decls_.count(canonical) && spec.use != quant::Use::FoldedNotApplied;
      if (spec.required || model_needs_it) {
        c.file = plan_.files.weight_files.empty() ? plan_.files.dir : plan_.files.weight_files.front();
        c.expected = std::string(quant::dtypes_text(spec)) + " " +
                     quant::shape_rule_text(spec.shape, shard.out_features, shard.in_features);
        c.found = "no such tensor";
        error("missing tensor '" + std::string(spec.suffix) + "' required by " + std::string(decl.name), c);
      }
      shard.params.push_back(std::move(bp));
      continue;
    }
    c.file = t->stored.file->path();
    c.tensor = t->name;
    if (t->used) {
      error("tensor bound twice", c);  // cannot happen with distinct canonical names; guards the invariant
      continue;
    }
    t->used = true;
    if (!quant::dtype_accepted(spec, t->stored.info->dtype)) {
      c.expected = quant::dtypes_text(spec);
      c.found = std::string(dtype_name(t->stored.info->dtype));
      error("wrong dtype for '" + std::string(spec.suffix) + "'", c);
    } else {
      check_shard_shape(shard, spec, *t, decl);
    }
    bp.tensor = BoundTensor{t->stored, t->name, t->canonical};
    shard.params.push_back(std::move(bp));
  }
  (void)id;
  // Anything else under this layer's name is a tensor the scheme would ignore; running without it would change
  // the layer's result (a second-stage scale, a smoothing factor), so it is an error, not a warning.
  auto it = by_layer_.find(shard.canonical);
  if (it == by_layer_.end()) return;
  for (size_t i : it->second) {
    FileTensor& t = tensors_[i];
    if (t.used) continue;
    t.used = true;
    ErrorContext c = at_tensor(t);
    c.layer = shard.canonical;
    c.scheme = decl.name;
    std::string declared;
    for (const auto& p : decl.params) declared += (declared.empty() ? "" : ", ") + std::string(p.suffix);
    c.expected = "only " + declared;
    c.found = "'" + t.canonical.substr(shard.canonical.size() + 1) + "'";
    error("tensor not declared by the layer's scheme", c);
  }
}

void Planner::check_shard_shape(ShardPlan& shard, const ParamSpec& spec, const FileTensor& t, const SchemeDecl& decl) {
  const Shape& found = t.stored.info->shape;
  const int64_t n = shard.out_features, k = shard.in_features;
  if (quant::shape_accepted(spec.shape, n, k, found)) return;
  // A float conv weight declared by the model in its own shape (patch_embedding [D, Cin, 1, 2, 2]) is the same
  // matrix viewed as [N, K].
  if (spec.slot == quant::Slot::Weight && decl.id == SchemeId::Float) {
    auto it = param_decls_.find(t.canonical);
    if (it != param_decls_.end() && it->second->shape == found && shape_numel(found) == n * k) return;
  }
  ErrorContext c = at_tensor(t);
  c.layer = shard.canonical;
  c.scheme = decl.name;
  c.found = shape_str(found);
  // [N, K/G] scales are the per-group form of the scheme.
  const bool scale = spec.suffix == "weight_scale" || spec.suffix == "weight_offset";
  if (scale && decl.has_per_group_form && found.size() == 2 && found[0] == n && found[1] > 1 && k % found[1] == 0) {
    c.expected = "per-channel " + quant::shape_rule_text(spec.shape, n, k);
    error("recognised, not supported yet: per-group " + std::string(decl.name) + " (group size " +
              std::to_string(k / found[1]) + ")",
          c);
    return;
  }
  if (spec.shape == quant::ShapeRule::PackedAlongN && n % 2 != 0) {
    c.expected = "an even number of output features to pack int4 pairs along N";
    c.found = "N = " + std::to_string(n);
  } else {
    c.expected = quant::shape_rule_text(spec.shape, n, k);
  }
  error("wrong shape for '" + std::string(spec.suffix) + "'", c);
}

void Planner::check_shared_activation_params(LinearPlan& lp) {
  // Fused shards quantize one activation, so one input_scale/input_offset must serve them all.
  for (std::string_view suffix : {"input_scale", "input_offset"}) {
    const BoundParam* first = lp.shards.front().param(suffix);
    const double v0 = element_as_double(plan_.store->view(first->tensor->stored), 0);
    for (size_t i = 1; i < lp.shards.size(); ++i) {
      const BoundParam* b = lp.shards[i].param(suffix);
      const double v = element_as_double(plan_.store->view(b->tensor->stored), 0);
      if (v == v0) continue;
      ErrorContext c;
      c.file = b->tensor->file();
      c.tensor = b->tensor->name;
      c.canonical = b->tensor->canonical;
      c.layer = lp.runtime;
      c.scheme = "W8A8";
      c.expected = std::to_string(v0) + " (as " + first->tensor->name + ")";
      c.found = std::to_string(v);
      error("fused shards quantize the same activation but disagree on " + std::string(suffix), c);
    }
  }
}

void Planner::claim_layer_tensors(const std::string& canonical_layer) {
  auto it = by_layer_.find(canonical_layer);
  if (it == by_layer_.end()) return;
  for (size_t i : it->second) tensors_[i].used = true;
}

void Planner::plan_params() {
  for (const auto& d : schema_.params) {
    if (linear_layers_.count(parent_of(d.canonical))) continue;  // bound through the layer's scheme
    ParamPlan pp;
    pp.canonical = d.canonical;
    pp.shape = d.shape;
    FileTensor* t = find(d.canonical);
    if (!t) {
      ErrorContext c;
      c.file = plan_.files.weight_files.empty() ? plan_.files.dir : plan_.files.weight_files.front();
      c.canonical = d.canonical;
      c.expected = "F32, BF16 or F16 " + shape_str(d.shape);
      c.found = "no such tensor";
      error("missing model parameter", c);
      plan_.params.push_back(std::move(pp));
      continue;
    }
    t->used = true;
    ErrorContext c = at_tensor(*t);
    if (!is_float_dtype(t->stored.info->dtype)) {
      c.expected = "F32, BF16 or F16";
      c.found = std::string(dtype_name(t->stored.info->dtype));
      error("wrong dtype for a float parameter", c);
    } else if (t->stored.info->shape != d.shape) {
      c.expected = shape_str(d.shape);
      c.found = shape_str(t->stored.info->shape);
      error("wrong shape", c);
    } else {
      pp.tensor = BoundTensor{t->stored, t->name, t->canonical};
    }
    if (const auto* ty = described(d.canonical); ty && ty->first != "FLOAT") {
      c.expected = "FLOAT";
      c.found = "'" + ty->first + "'";
      warning("the description labels a float parameter with a quantization type; it is loaded as float", c);
    }
    plan_.params.push_back(std::move(pp));
  }
}

void Planner::account() {
  for (auto& t : tensors_) {
    if (t.used) continue;
    ErrorContext c = at_tensor(t);
    // A tensor under a linear layer that failed to bind was claimed already; one under a layer that bound is
    // reported by bind_shard. What is left belongs to nothing the model declares.
    warning("unused tensor: no model parameter takes it", c);
  }
}

void Planner::run() {
  if (!load_inputs()) return;
  if (!map_checkpoint_names()) return;
  try {
    // A native "i2v" config.json reads the same for Wan2.1 I2V and Wan2.2 I2V; the tensors settle it.
    bool image_tensors = false;
    for (const auto& t : tensors_)
      image_tensors = image_tensors || t.canonical.rfind("condition_embedder.image_embedder.", 0) == 0;
    plan_.config = wan::settle_image_branch(plan_.config, image_tensors, plan_.files.config_file);
    schema_ = wan::build_schema(plan_.config);
  } catch (const Error& e) {
    plan_.problems.push_back({Severity::Error, e.message(), e.context()});
    return;
  }
  for (const auto& l : schema_.linears) linear_layers_.insert(l.canonical);
  for (const auto& p : schema_.params) param_decls_[p.canonical] = &p;
  if (!map_description()) return;
  plan_linears();
  plan_params();
  account();
}

}  // namespace

const char* severity_name(Severity s) { return s == Severity::Error ? "error" : "warning"; }

const BoundParam* ShardPlan::param(std::string_view suffix) const {
  for (const auto& p : params)
    if (p.spec->suffix == suffix) return &p;
  return nullptr;
}

std::string LinearPlan::canonical_names() const {
  std::string out;
  for (const auto& s : shards) out += (out.empty() ? "" : "|") + s.canonical;
  return out;
}

std::string LinearPlan::checkpoint_names() const {
  std::string out;
  for (const auto& s : shards) out += (out.empty() ? "" : "|") + s.checkpoint;
  return out;
}

size_t ComponentPlan::error_count() const {
  return std::count_if(problems.begin(), problems.end(), [](const Problem& p) { return p.severity == Severity::Error; });
}

size_t ComponentPlan::warning_count() const { return problems.size() - error_count(); }

ComponentPlan plan_component(const ComponentFiles& files) {
  ComponentPlan plan;
  plan.files = files;
  Planner(plan).run();
  return plan;
}

std::vector<ComponentPlan> plan_checkpoint(const std::string& path) {
  CheckpointLayout layout = detect_layout(path);
  std::vector<ComponentPlan> plans;
  for (const auto& c : layout.components) plans.push_back(plan_component(c));
  return plans;
}

}  // namespace qdit::load
