#include "qdit/quantize/quantizer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>

#include "qdit/core/error.h"
#include "qdit/io/safetensors.h"
#include "qdit/load/plan.h"
#include "qdit/models/wan/rules.h"
#include "qdit/models/wan/schema.h"
#include "qdit/quantize/calibration.h"
#include "qdit/quantize/config_writer.h"
#include "qdit/quantize/description_writer.h"
#include "qdit/quantize/exclude_globs.h"
#include "qdit/quantize/layer_quantizer.h"
#include "qdit/quantize/output_dir.h"
#include "qdit/quantize/progress_bar.h"

namespace qdit::quantize {

namespace fs = std::filesystem;

namespace {

// One unit of the output file: either a quantized layer (all its tensors) or one tensor copied as stored.
struct WriteGroup {
  std::string layer;  // canonical layer (quantized groups) or canonical tensor name (copies)
  bool quantized = false;
  bool is_linear_weight = false;  // counts as a layer for the progress bar
  // Quantized: the source weight and optional bias. Copy: `weight` is the tensor itself.
  const StoredTensor* weight = nullptr;
  const StoredTensor* bias = nullptr;
  std::string weight_name;  // as in the source file
  std::vector<LayerTensorDecl> decls;  // quantized groups
  std::vector<std::string> out_names;  // one per written tensor
};

ErrorContext file_ctx(const std::string& file) {
  ErrorContext c;
  c.file = file;
  return c;
}

// Once a layer is written its source pages are never read again; handing them back keeps the process's resident
// set at about one layer even for a 28 GB source (otherwise every page of the mmap stays resident until the
// kernel reclaims it). MADV_PAGEOUT only reclaims what can be re-read or swapped, so it can never lose data; where
// the kernel lacks it the call fails and nothing changes.
void release_source_pages(const Tensor& t) {
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(t.raw()) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(t.raw()) + t.nbytes()) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_PAGEOUT);
}

NameSpace source_names(const load::ComponentPlan& plan) {
  return plan.checkpoint_namespace == "native" ? NameSpace::Native : NameSpace::Diffusers;
}

std::string to_output_name(const std::string& canonical, NameSpace names) {
  if (names == NameSpace::Diffusers) return canonical;
  MappedName m = wan::wan_diffusers_to_native().map(canonical);
  if (m.dropped || m.name.empty()) fail_internal("the native rule list drops the canonical name " + canonical);
  return m.name;
}

[[noreturn]] void fail_plan(const load::ComponentPlan& plan) {
  const load::Problem* first = nullptr;
  for (const auto& p : plan.problems)
    if (p.severity == load::Severity::Error && !first) first = &p;
  fail_checkpoint("cannot quantize " + plan.files.dir + ": the source has " + std::to_string(plan.error_count()) +
                      " problem(s) (run 'qdit inspect' for all of them); the first: " + first->message,
                  first->where);
}

void check_source_is_float(const load::ComponentPlan& plan) {
  if (!plan.description) return;
  ErrorContext c = file_ctx(plan.description->path);
  c.expected = "a float checkpoint (no quant_model_description*.json)";
  c.found = "a quantized checkpoint (model_quant_type " + plan.description->model_quant_type + ")";
  fail_checkpoint("the source is already quantized; qdit quantize needs the float model", c);
}

class ComponentQuantizer {
 public:
  ComponentQuantizer(const QuantizeOptions& opt, const load::ComponentPlan& plan, const ExcludeGlobs& excludes,
                     NameSpace names, std::string out_dir)
      : opt_(opt), plan_(plan), excludes_(excludes), names_(names), out_dir_(std::move(out_dir)) {}

  ComponentReport run() {
    index_source();
    const wan::WanSchema schema = wan::build_schema(plan_.config);
    select_layers(schema);
    if (opt_.scheme == SchemeId::W8A8) ranges_ = calibrate(plan_, opt_.calibration);
    build_groups(schema);
    write();
    return report_;
  }

 private:
  void index_source() {
    const wan::WanNamespace ns =
        source_names(plan_) == NameSpace::Native ? wan::WanNamespace::Native : wan::WanNamespace::Diffusers;
    for (const std::string& name : plan_.store->names()) {
      MappedName m = wan::to_canonical(ns, name);
      if (m.dropped) {  // a name the rule list drops (e.g. norm_added_q): no parameter of the model
        warnings_.push_back("not written, the name map drops it: " + name);
        continue;
      }
      source_[m.name] = {name, plan_.store->find(name)};
    }
  }

  void select_layers(const wan::WanSchema& schema) {
    bool all_bf16 = true, any = false;
    for (const wan::LinearDecl& l : schema.linears) {
      if (!l.quantizable || excludes_.excludes(l.canonical)) continue;
      quantize_.insert(l.canonical);
      auto it = source_.find(l.canonical + ".weight");
      if (it != source_.end()) {
        any = true;
        all_bf16 &= it->second.second->info->dtype == DType::BF16;
      }
    }
    // "The source model is bf16" decides the static deq_scale dtype (modelslim-format.md §2.1).
    source_bf16_ = any && all_bf16;
  }

  const StoredTensor* source_tensor(const std::string& canonical, std::string* name = nullptr) const {
    auto it = source_.find(canonical);
    if (it == source_.end()) return nullptr;
    if (name) *name = it->second.first;
    return it->second.second;
  }

  void build_groups(const wan::WanSchema& schema) {
    std::set<std::string> placed;
    LayerQuantOptions lq;
    lq.scheme = opt_.scheme;
    lq.deq_scale_int64 = deq_scale_as_int64(opt_.layout, source_bf16_);
    for (const wan::ParamDecl& p : schema.params) {
      const bool quantized_layer = quantize_.count(p.layer) > 0;
      if (quantized_layer && p.role == wan::ParamRole::LinearBias) continue;  // written with its weight
      WriteGroup g;
      if (quantized_layer && p.role == wan::ParamRole::LinearWeight) {
        g.layer = p.layer;
        g.quantized = true;
        g.is_linear_weight = true;
        g.weight = source_tensor(p.canonical, &g.weight_name);
        g.bias = source_tensor(p.layer + ".bias");
        QDIT_CHECK(g.weight, "the plan accepted a source without " + p.canonical);
        const TensorInfo& w = *g.weight->info;
        g.decls = quantized_layer_decls(lq, w.shape[0], w.shape[1], g.bias != nullptr);
        for (const auto& d : g.decls) g.out_names.push_back(to_output_name(p.layer + "." + d.suffix, names_));
        placed.insert(p.canonical);
        placed.insert(p.layer + ".bias");
        ++report_.quantized_layers;
      } else {
        g.layer = p.canonical;
        g.weight = source_tensor(p.canonical, &g.weight_name);
        if (!g.weight) continue;  // an optional parameter the source does not have (the plan accepted that)
        g.is_linear_weight = p.role == wan::ParamRole::LinearWeight;
        if (g.is_linear_weight) ++report_.float_layers;
        g.out_names.push_back(to_output_name(p.canonical, names_));
        placed.insert(p.canonical);
      }
      groups_.push_back(std::move(g));
    }
    // Tensors outside the schema (the plan warned about them): carried over unchanged rather than lost.
    for (const auto& [canonical, src] : source_) {
      if (placed.count(canonical)) continue;
      WriteGroup g;
      g.layer = canonical;
      g.weight = src.second;
      g.weight_name = src.first;
      g.out_names.push_back(names_ == source_names(plan_) ? src.first : to_output_name(canonical, names_));
      warnings_.push_back("copied unchanged, not a parameter of the model: " + src.first);
      groups_.push_back(std::move(g));
    }
  }

  void write() {
    prepare_output_dir(out_dir_);

    // The description first (in memory): its model_quant_type names the MindIE files.
    DescriptionWriter desc;
    for (const WriteGroup& g : groups_) {
      if (g.quantized) {
        for (size_t i = 0; i < g.decls.size(); ++i) desc.add(g.out_names[i], g.decls[i].type);
      } else {
        desc.add(g.out_names[0], "FLOAT");
      }
    }
    const std::string mqt = desc.model_quant_type();
    const std::string weights_path = (fs::path(out_dir_) / weights_file_name(opt_.layout, mqt)).string();
    const std::string desc_path = (fs::path(out_dir_) / description_file_name(opt_.layout, mqt)).string();

    SafetensorsWriter writer(weights_path);
    for (const WriteGroup& g : groups_) {
      if (g.quantized) {
        for (size_t i = 0; i < g.decls.size(); ++i) writer.declare(g.out_names[i], g.decls[i].dtype, g.decls[i].shape);
      } else {
        writer.declare(g.out_names[0], g.weight->info->dtype, g.weight->info->shape);
      }
    }
    ProgressBar bar("quantize " + plan_.files.name, report_.quantized_layers + report_.float_layers, opt_.progress);
    LayerQuantOptions lq;
    lq.scheme = opt_.scheme;
    lq.deq_scale_int64 = deq_scale_as_int64(opt_.layout, source_bf16_);
    for (const WriteGroup& g : groups_) {
      int64_t bytes = 0;
      if (g.quantized) {
        bytes = write_quantized(writer, g, lq);
      } else {
        const Tensor t = plan_.store->view(*g.weight);
        writer.write(g.out_names[0], t.raw(), t.nbytes());
        bytes = static_cast<int64_t>(t.nbytes());
        release_source_pages(t);
      }
      report_.bytes += bytes;
      if (g.is_linear_weight)
        bar.step(bytes);
    }
    writer.finish();
    bar.finish();
    desc.write(desc_path, writes_ascendv1_metadata(opt_.layout));
    write_config();

    report_.name = plan_.files.name;
    report_.dir = out_dir_;
    report_.weights_file = weights_path;
    report_.description_file = desc_path;
    report_.model_quant_type = mqt;
    report_.names = names_;
    report_.tensors = static_cast<int64_t>(desc.size());
  }

  int64_t write_quantized(SafetensorsWriter& writer, const WriteGroup& g, LayerQuantOptions lq) {
    ErrorContext c = file_ctx(g.weight->file->path());
    c.tensor = g.weight_name;
    c.canonical = g.layer + ".weight";
    c.layer = g.layer;
    if (opt_.scheme == SchemeId::W8A8) {
      auto it = ranges_.find(g.layer);
      if (it == ranges_.end() || it->second.samples == 0)
        fail_internal("calibration recorded no input for layer " + g.layer, c);
      lq.activation = static_activation_params(it->second);
    }
    const Tensor w = plan_.store->view(*g.weight);
    const Tensor b = g.bias ? plan_.store->view(*g.bias) : Tensor();
    const std::vector<LayerTensor> out = quantize_layer(w, b, lq, c);
    int64_t bytes = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      writer.write(g.out_names[i], out[i].data.raw(), out[i].data.nbytes());
      bytes += static_cast<int64_t>(out[i].data.nbytes());
    }
    release_source_pages(w);
    if (b.defined()) release_source_pages(b);
    return bytes;
  }

  void write_config() {
    const std::string dst = (fs::path(out_dir_) / "config.json").string();
    // Same namespace: the source's config.json verbatim. Otherwise the config in the output's form, so that the
    // folder's config and its tensor names agree.
    if (!plan_.files.config_file.empty() && names_ == source_names(plan_)) {
      std::error_code ec;
      fs::copy_file(plan_.files.config_file, dst, fs::copy_options::overwrite_existing, ec);
      if (ec) fail_io("cannot copy config.json: " + ec.message(), file_ctx(dst));
      return;
    }
    write_json_file(dst, wan_config_json(plan_.config, names_));
  }

 public:
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  std::vector<std::string> warnings_;
  const QuantizeOptions& opt_;
  const load::ComponentPlan& plan_;
  const ExcludeGlobs& excludes_;
  NameSpace names_;
  std::string out_dir_;
  std::map<std::string, std::pair<std::string, const StoredTensor*>> source_;  // canonical -> (file name, tensor)
  std::set<std::string> quantize_;
  bool source_bf16_ = false;
  ActivationRanges ranges_;
  std::vector<WriteGroup> groups_;
  ComponentReport report_;
};

void check_options(const QuantizeOptions& opt) {
  if (opt.src.empty()) fail_usage("missing SRC (the float checkpoint to quantize)");
  if (opt.out.empty()) fail_usage("missing --out DST");
  if (opt.scheme != SchemeId::W8A8 && opt.scheme != SchemeId::W8A8Dynamic && opt.scheme != SchemeId::W4A4Dynamic &&
      opt.scheme != SchemeId::W8A16)
    fail_usage(std::string("qdit quantize does not produce ") + scheme_name(opt.scheme));
  if (opt.scheme == SchemeId::W8A8 && opt.calibration.empty())
    fail_usage(
        "--scheme w8a8 is static: its input_scale/input_offset come from the activation ranges of calibration runs, "
        "so it needs at least one --calibration FILE (inputs in `qdit run` form); without calibration data use "
        "--scheme w8a8_dynamic, which quantizes activations per token at run time");
  if (opt.scheme != SchemeId::W8A8 && !opt.calibration.empty())
    fail_usage(std::string("--calibration is only used by --scheme w8a8 (static activation ranges); ") +
               target_scheme_flag(opt.scheme) + " needs none");
  if (opt.layout == OutputLayout::Repacked && opt.names && *opt.names == NameSpace::Native)
    fail_usage("--layout repacked is the Diffusers layout (SGLang's wan_repack): it takes --names diffusers");
  std::error_code ec;
  if (fs::equivalent(opt.out, opt.src, ec)) fail_usage("--out must differ from SRC");
}

}  // namespace

QuantizeReport quantize_checkpoint(const QuantizeOptions& opt) {
  check_options(opt);
  const ExcludeGlobs excludes(opt.excludes);
  std::vector<load::ComponentPlan> plans = load::plan_checkpoint(opt.src);
  prepare_output_dir(opt.out);
  const CheckpointLayout layout = detect_layout(opt.src);
  for (const auto& plan : plans) {
    if (!plan.ok()) fail_plan(plan);
    check_source_is_float(plan);
  }
  const bool tree = layout.kind == LayoutKind::DiffusersPipeline || plans.size() > 1;
  QuantizeReport report;
  for (const auto& plan : plans) {
    for (const auto& p : plan.problems)
      if (p.severity == load::Severity::Warning) report.warnings.push_back("source: " + p.text());
    NameSpace names = opt.names ? *opt.names
                      : opt.layout == OutputLayout::MindIE   ? NameSpace::Native
                      : opt.layout == OutputLayout::Repacked ? NameSpace::Diffusers
                                                             : source_names(plan);
    const std::string dir =
        tree ? (fs::path(opt.out) / component_folder(names, component_expert_index(plan.files.name))).string() : opt.out;
    ComponentQuantizer q(opt, plan, excludes, names, dir);
    report.components.push_back(q.run());
    for (const auto& w : q.warnings()) report.warnings.push_back(w);
  }
  if (tree && !report.components.empty() && report.components.front().names == NameSpace::Diffusers) {
    const std::string src_index = (fs::path(opt.src) / "model_index.json").string();
    const std::string dst_index = (fs::path(opt.out) / "model_index.json").string();
    if (fs::exists(src_index)) {
      std::error_code ec;
      fs::copy_file(src_index, dst_index, fs::copy_options::overwrite_existing, ec);
      if (ec) fail_io("cannot copy model_index.json: " + ec.message(), file_ctx(dst_index));
    } else {
      write_json_file(dst_index, pipeline_index_json(static_cast<int>(plans.size()), 0.875));
    }
  }
  for (const auto& p : excludes.unused()) report.warnings.push_back("--exclude '" + p + "' matched no quantizable layer");
  return report;
}

}  // namespace qdit::quantize
