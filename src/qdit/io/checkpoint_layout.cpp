// Layout detection. The rules, in the order they are tried for a folder:
//   1. model_index.json                      -> Diffusers pipeline; each transformer it names is a component folder
//   2. high_noise_model/ + low_noise_model/  -> Wan2.2 two-expert tree (msModelSlim output or the original repo)
//   3. otherwise the folder is one component, recognised by its top-level files (see classify_component).
// Only top-level files are listed, so nothing under optional/ (or any other subfolder) is ever read.
#include "qdit/io/checkpoint_layout.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "qdit/core/error.h"
#include "qdit/io/json_file.h"

namespace qdit {

namespace {

namespace fs = std::filesystem;

constexpr const char* kLookedFor =
    "model_index.json (Diffusers pipeline); high_noise_model/ + low_noise_model/ (Wan2.2 experts); "
    "config.json + *.safetensors (Diffusers or native Wan component); quant_model_description*.json with "
    "quant_model_weight_<type>.safetensors (msModelSlim raw), quant_model_weights*.safetensors (AscendV1) or "
    "diffusion_pytorch_model*.safetensors (repacked Diffusers)";

bool starts_with(const std::string& s, std::string_view p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, std::string_view p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}
std::string join_path(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

ErrorContext in(const std::string& file, std::string expected = {}, std::string found = {}) {
  ErrorContext c;
  c.file = file;
  c.expected = std::move(expected);
  c.found = std::move(found);
  return c;
}

// The top-level entries of a folder, by name, sorted.
struct Listing {
  std::vector<std::string> files;    // regular files (symlinks followed, as in Hugging Face caches)
  std::vector<std::string> folders;
  bool has_file(const std::string& n) const { return std::binary_search(files.begin(), files.end(), n); }
  bool has_folder(const std::string& n) const { return std::binary_search(folders.begin(), folders.end(), n); }
  std::string describe() const {
    std::vector<std::string> all = files;
    for (const auto& f : folders) all.push_back(f + "/");
    std::sort(all.begin(), all.end());
    if (all.empty()) return "an empty folder";
    std::string out = "folder contents: ";
    for (size_t i = 0; i < all.size() && i < 20; ++i) out += (i ? ", " : "") + all[i];
    if (all.size() > 20) out += ", ... and " + std::to_string(all.size() - 20) + " more";
    return out;
  }
};

Listing list_folder(const std::string& dir) {
  Listing l;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) fail_io("cannot list folder: " + ec.message(), in(dir));
  for (const fs::directory_entry& e : it) {
    std::error_code sec;
    std::string name = e.path().filename().string();
    if (e.is_directory(sec))
      l.folders.push_back(name);
    else if (e.is_regular_file(sec))
      l.files.push_back(name);
  }
  std::sort(l.files.begin(), l.files.end());
  std::sort(l.folders.begin(), l.folders.end());
  return l;
}

[[noreturn]] void fail_unrecognised(const std::string& dir, const Listing& l, const std::string& why) {
  fail_checkpoint("not a recognised checkpoint layout: " + why, in(dir, std::string("one of: ") + kLookedFor, l.describe()));
}

// "<stem>-00002-of-00003.safetensors" -> stem, 2, 3 and the digit width; false for any other name.
struct ShardName {
  std::string stem;
  int index = 0, total = 0;
  size_t width = 0;
};
bool parse_shard_name(const std::string& name, ShardName& out) {
  const std::string ext = ".safetensors";
  if (!ends_with(name, ext)) return false;
  std::string base = name.substr(0, name.size() - ext.size());
  size_t of = base.rfind("-of-");
  if (of == std::string::npos) return false;
  std::string total = base.substr(of + 4);
  size_t dash = base.rfind('-', of - 1);
  if (of == 0 || dash == std::string::npos) return false;
  std::string index = base.substr(dash + 1, of - dash - 1);
  auto all_digits = [](const std::string& s) {
    return !s.empty() && s.size() <= 6 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!all_digits(index) || !all_digits(total)) return false;
  out.stem = base.substr(0, dash);
  out.index = std::stoi(index);
  out.total = std::stoi(total);
  out.width = total.size();
  return true;
}

// A sharded set must be complete: a missing shard would otherwise surface later as "missing tensors".
void check_shards_complete(const std::string& dir, const std::vector<std::string>& names) {
  std::map<std::pair<std::string, int>, std::pair<std::set<int>, size_t>> groups;  // (stem, total) -> indices, width
  for (const auto& n : names) {
    ShardName s;
    if (!parse_shard_name(n, s)) continue;
    auto& g = groups[{s.stem, s.total}];
    g.first.insert(s.index);
    g.second = s.width;
  }
  for (const auto& [key, group] : groups) {
    const auto& [stem, total] = key;
    const auto& [indices, width] = group;
    for (int i = 1; i <= total; ++i) {
      if (indices.count(i)) continue;
      auto pad = [w = width](int v) {
        std::string s = std::to_string(v);
        return std::string(s.size() < w ? w - s.size() : 0, '0') + s;
      };
      std::string missing = stem + "-" + pad(i) + "-of-" + pad(total) + ".safetensors";
      fail_checkpoint("sharded checkpoint is incomplete", in(join_path(dir, missing), "shard present", "file missing"));
    }
    if (*indices.rbegin() > total || *indices.begin() < 1)
      fail_checkpoint("shard numbering out of range", in(dir, "shards 1.." + std::to_string(total), stem + " shards"));
  }
}

enum class ConfigForm { Diffusers, Native };

// Diffusers' WanTransformer3DModel config has num_attention_heads/attention_head_dim; the native Wan config has
// dim/num_heads (and _class_name "WanModel", so _class_name alone does not decide).
ConfigForm config_form(const std::string& config_path) {
  nlohmann::json c = read_json_file(config_path);
  if (!c.is_object()) fail_checkpoint("config.json is not a JSON object", in(config_path));
  std::string cls = c.contains("_class_name") && c["_class_name"].is_string() ? c["_class_name"].get<std::string>() : "";
  bool diffusers = c.contains("num_attention_heads") || c.contains("attention_head_dim") || cls == "WanTransformer3DModel";
  bool native = c.contains("dim") || c.contains("num_heads") || cls == "WanModel";
  if (diffusers && native)
    fail_checkpoint("config.json mixes Diffusers and native Wan keys",
                    in(config_path, "either num_attention_heads/attention_head_dim or dim/num_heads", "both"));
  if (!diffusers && !native)
    fail_checkpoint("config.json is neither a Diffusers nor a native Wan transformer config",
                    in(config_path, "num_attention_heads (Diffusers) or dim/num_heads (native Wan)",
                       cls.empty() ? "neither" : "_class_name '" + cls + "'"));
  return diffusers ? ConfigForm::Diffusers : ConfigForm::Native;
}

// Exactly quant_model_description.json if present, else the first of quant_model_description*.json sorted.
std::string find_description(const Listing& l) {
  if (l.has_file("quant_model_description.json")) return "quant_model_description.json";
  for (const auto& f : l.files)
    if (starts_with(f, "quant_model_description") && ends_with(f, ".json")) return f;
  return "";
}

bool is_ascend_weight(const std::string& n) {
  ShardName s;
  return n == "quant_model_weights.safetensors" || (parse_shard_name(n, s) && s.stem == "quant_model_weights");
}
// quant_model_weight_<type>.safetensors -> "<type>".
std::string raw_weight_type(const std::string& n) {
  const std::string pre = "quant_model_weight_", ext = ".safetensors";
  if (!starts_with(n, pre) || !ends_with(n, ext) || n.size() <= pre.size() + ext.size()) return "";
  return n.substr(pre.size(), n.size() - pre.size() - ext.size());
}

// One component folder. `only_file` (a name in the folder) restricts the weights to that file.
ComponentFiles classify_component(const std::string& dir, const std::string& name, const std::string& only_file = "") {
  Listing l = list_folder(dir);
  std::vector<std::string> weights;
  if (!only_file.empty()) {
    weights.push_back(only_file);
  } else {
    for (const auto& f : l.files)
      if (ends_with(f, ".safetensors")) weights.push_back(f);
  }
  if (weights.empty()) fail_unrecognised(dir, l, "no *.safetensors at the top level");
  if (only_file.empty()) check_shards_complete(dir, weights);

  size_t ascend = 0, raw = 0, diffusers_named = 0;
  std::set<std::string> raw_types;
  for (const auto& w : weights) {
    if (is_ascend_weight(w)) ++ascend;
    std::string t = raw_weight_type(w);
    if (!t.empty()) ++raw, raw_types.insert(t);
    if (starts_with(w, "diffusion_pytorch_model")) ++diffusers_named;
  }
  if (ascend && raw)
    fail_checkpoint("folder mixes AscendV1 (quant_model_weights*) and msModelSlim raw (quant_model_weight_*) files",
                    in(dir, "one quantized output per folder", l.describe()));

  ComponentFiles c;
  c.name = name;
  c.dir = dir;
  for (const auto& w : weights) c.weight_files.push_back(join_path(dir, w));
  if (only_file.empty())
    for (const auto& f : l.files)
      if (ends_with(f, ".safetensors.index.json")) {
        c.index_file = join_path(dir, f);
        break;
      }
  if (l.has_file("config.json")) c.config_file = join_path(dir, "config.json");
  std::string description = find_description(l);
  // Raw output names the type in both files; pair them when the general rule would pick another type's file.
  if (raw && raw_types.size() == 1 && l.has_file("quant_model_description_" + *raw_types.begin() + ".json"))
    description = "quant_model_description_" + *raw_types.begin() + ".json";
  if (!description.empty()) c.description_file = join_path(dir, description);

  if (ascend || raw) {
    c.layout = ascend ? LayoutKind::AscendV1 : LayoutKind::MsModelSlimRaw;
    if (description.empty())
      fail_checkpoint(ascend ? "AscendV1 weights without quant_model_description.json"
                             : "msModelSlim weights without quant_model_description_<type>.json",
                      in(dir, "quant_model_description*.json beside the weights", l.describe()));
    return c;
  }
  if (c.config_file.empty()) {
    if (!description.empty() && diffusers_named == weights.size()) {
      c.layout = LayoutKind::DiffusersRepacked;
      return c;
    }
    fail_unrecognised(dir, l, description.empty() ? "*.safetensors without config.json or a quant_model_description*.json"
                                                  : "a quant_model_description*.json without config.json, and weights "
                                                    "not named diffusion_pytorch_model*.safetensors");
  }
  ConfigForm form = config_form(c.config_file);
  if (!description.empty())
    c.layout = form == ConfigForm::Diffusers ? LayoutKind::DiffusersRepacked : LayoutKind::NativeComponent;
  else
    c.layout = form == ConfigForm::Diffusers ? LayoutKind::DiffusersComponent : LayoutKind::NativeComponent;
  return c;
}

// A component named in model_index.json: its value is ["library", "ClassName"]; [null, null] means absent
// (Wan2.2 TI2V-5B writes transformer_2 that way).
bool names_component(const nlohmann::json& index, const std::string& key) {
  if (!index.contains(key)) return false;
  const nlohmann::json& v = index[key];
  if (v.is_null()) return false;
  if (v.is_array()) return std::any_of(v.begin(), v.end(), [](const nlohmann::json& e) { return !e.is_null(); });
  return true;
}

CheckpointLayout detect_pipeline(const std::string& root, const Listing& l) {
  const std::string index_path = join_path(root, "model_index.json");
  nlohmann::json index = read_json_file(index_path);
  if (!index.is_object()) fail_checkpoint("model_index.json is not a JSON object", in(index_path));
  CheckpointLayout layout{LayoutKind::DiffusersPipeline, root, {}};
  for (const char* key : {"transformer", "transformer_2"}) {
    if (!names_component(index, key)) continue;
    if (!l.has_folder(key))
      fail_checkpoint(std::string("model_index.json names ") + key + ", but the folder is missing",
                      in(join_path(root, key), "a folder", "nothing"));
    layout.components.push_back(classify_component(join_path(root, key), key));
  }
  if (layout.components.empty())
    fail_checkpoint("model_index.json names no transformer component",
                    in(index_path, "a \"transformer\" entry", "none"));
  return layout;
}

CheckpointLayout detect_experts(const std::string& root, const Listing& l) {
  for (const char* need : {"high_noise_model", "low_noise_model"})
    if (!l.has_folder(need))
      fail_checkpoint("Wan2.2 expert tree lacks " + std::string(need) + "/",
                      in(root, "high_noise_model/ and low_noise_model/", l.describe()));
  CheckpointLayout layout{LayoutKind::MsModelSlimRaw, root, {}};
  for (const char* sub : {"high_noise_model", "low_noise_model"})
    layout.components.push_back(classify_component(join_path(root, sub), sub));
  if (layout.components[0].layout != layout.components[1].layout)
    fail_checkpoint("high_noise_model/ and low_noise_model/ have different layouts",
                    in(root, "the same layout", std::string(layout_name(layout.components[0].layout)) + " vs " +
                                                    layout_name(layout.components[1].layout)));
  layout.kind = layout.components[0].layout;
  return layout;
}

}  // namespace

CheckpointLayout detect_layout(const std::string& path) {
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) fail_io("checkpoint path does not exist", in(path));

  if (fs::is_regular_file(st)) {
    if (!ends_with(path, ".safetensors"))
      fail_checkpoint("not a checkpoint", in(path, "a folder or a .safetensors file", "another kind of file"));
    fs::path p(path);
    std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
    ComponentFiles c = classify_component(dir, "transformer", p.filename().string());
    return CheckpointLayout{c.layout, path, {c}};
  }
  if (!fs::is_directory(st))
    fail_checkpoint("not a checkpoint", in(path, "a folder or a .safetensors file", "neither"));

  Listing l = list_folder(path);
  if (l.has_file("model_index.json")) return detect_pipeline(path, l);
  if (l.has_folder("high_noise_model") || l.has_folder("low_noise_model")) return detect_experts(path, l);
  ComponentFiles c = classify_component(path, "transformer");
  return CheckpointLayout{c.layout, path, {c}};
}

const char* layout_name(LayoutKind k) {
  switch (k) {
    case LayoutKind::DiffusersPipeline: return "diffusers-pipeline";
    case LayoutKind::DiffusersComponent: return "diffusers-component";
    case LayoutKind::NativeComponent: return "native-component";
    case LayoutKind::MsModelSlimRaw: return "msmodelslim-raw";
    case LayoutKind::AscendV1: return "ascend-v1";
    case LayoutKind::DiffusersRepacked: return "diffusers-repacked";
  }
  return "unknown";
}

}  // namespace qdit
