#include "qdit/quantize/converter.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "qdit/core/error.h"
#include "qdit/io/checkpoint_layout.h"
#include "qdit/io/safetensors.h"
#include "qdit/io/tensor_store.h"
#include "qdit/models/wan/config.h"
#include "qdit/models/wan/rules.h"
#include "qdit/quant/description.h"
#include "qdit/quantize/config_writer.h"
#include "qdit/quantize/description_writer.h"
#include "qdit/quantize/output_dir.h"
#include "qdit/quantize/progress_bar.h"

namespace qdit::quantize {

namespace fs = std::filesystem;

namespace {

ErrorContext at(const std::string& file, const std::string& tensor = {}) {
  ErrorContext c;
  c.file = file;
  c.tensor = tensor;
  return c;
}

NameSpace from_wan(wan::WanNamespace ns) {
  return ns == wan::WanNamespace::Native ? NameSpace::Native : NameSpace::Diffusers;
}

// Renames one name from `from` to `to`; dropping a tensor is never silent.
std::string rename(const std::string& name, NameSpace from, NameSpace to, const std::string& file) {
  if (from == to) return name;
  const NameMap& map = from == NameSpace::Native ? wan::wan_native_to_diffusers() : wan::wan_diffusers_to_native();
  MappedName m = map.map(name);
  if (m.dropped || m.name.empty()) {
    ErrorContext c = at(file, name);
    c.expected = "a name the " + std::string(name_space_name(to)) + " namespace has";
    c.found = "the rename rules drop it";
    fail_checkpoint("cannot rename this tensor without losing it", c);
  }
  return m.name;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail_io("cannot read file", at(path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool has_image_tensors(const std::vector<std::string>& names) {
  for (const auto& n : names)
    if (n.rfind("img_emb.", 0) == 0 || n.rfind("condition_embedder.image_embedder.", 0) == 0) return true;
  return false;
}

struct SourceTensor {
  std::string name;
  const SafetensorsFile* file;
  const TensorInfo* info;
};

ConvertedComponent convert_component(const ComponentFiles& files, const std::string& out_dir, const ConvertOptions& opt) {
  const TensorStore store = files.index_file.empty() ? TensorStore::open(files.weight_files)
                                                     : TensorStore::open_with_index(files.weight_files, files.index_file);
  // Source order (file by file, by offset), so the output lists tensors as the source did.
  std::vector<SourceTensor> tensors;
  std::vector<std::string> names;
  for (const auto& f : store.files())
    for (const TensorInfo& t : f->tensors()) {
      tensors.push_back({t.name, f.get(), &t});
      names.push_back(t.name);
    }
  const std::string first_file = files.weight_files.front();
  const NameSpace from = from_wan(wan::detect_wan_namespace(names, first_file));

  ConvertedComponent rep;
  rep.name = files.name;
  rep.dir = out_dir;
  rep.from = name_space_name(from);

  // The description, renamed key by key in its own namespace, metadata kept in place.
  nlohmann::ordered_json desc_out;
  std::string model_quant_type;
  if (!files.description_file.empty()) {
    const quant::Description parsed = quant::parse_description_file(files.description_file);  // validates
    model_quant_type = parsed.model_quant_type;
    const nlohmann::ordered_json raw = nlohmann::ordered_json::parse(read_text(files.description_file));
    std::vector<std::string> keys;
    for (const auto& [k, v] : parsed.entries) keys.push_back(k);
    const NameSpace desc_from = keys.empty() ? from : from_wan(wan::detect_wan_namespace(keys, files.description_file));
    desc_out = nlohmann::ordered_json::object();
    for (auto it = raw.begin(); it != raw.end(); ++it) {
      const bool entry = it.value().is_string() && !quant::is_metadata_key(it.key());
      const std::string key = entry ? rename(it.key(), desc_from, opt.names, files.description_file) : it.key();
      if (desc_out.contains(key)) {
        ErrorContext c = at(files.description_file, it.key());
        c.found = "two keys renamed to '" + key + "'";
        fail_checkpoint("the description would lose an entry in the rename", c);
      }
      desc_out[key] = it.value();
      if (entry) ++rep.description_entries;
    }
  }

  prepare_output_dir(out_dir);
  const bool quantized = !files.description_file.empty();
  const std::string lower_type = [&] {
    std::string s = model_quant_type.empty() ? "float" : model_quant_type;
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  }();
  const OutputLayout layout = opt.names == NameSpace::Native ? OutputLayout::MindIE : OutputLayout::Repacked;
  rep.weights_file = (fs::path(out_dir) / (quantized ? weights_file_name(layout, lower_type)
                                                     : std::string("diffusion_pytorch_model.safetensors")))
                         .string();

  SafetensorsWriter writer(rep.weights_file);
  if (!store.files().empty()) writer.set_metadata(store.files().front()->metadata());
  std::map<std::string, std::string> taken;  // output name -> source name
  std::vector<std::string> out_names;
  for (const SourceTensor& t : tensors) {
    const std::string n = rename(t.name, from, opt.names, t.file->path());
    auto [it, fresh] = taken.emplace(n, t.name);
    if (!fresh) {
      ErrorContext c = at(t.file->path(), t.name);
      c.found = "'" + it->second + "' is renamed to the same name '" + n + "'";
      fail_checkpoint("two tensors would share one name after the rename", c);
    }
    if (n != t.name) ++rep.renamed;
    writer.declare(n, t.info->dtype, t.info->shape);
    out_names.push_back(n);
  }
  ProgressBar bar("convert " + files.name, static_cast<int64_t>(tensors.size()), opt.progress);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor v = tensors[i].file->view(*tensors[i].info);
    writer.write(out_names[i], v.raw(), v.nbytes());
    bar.step(static_cast<int64_t>(v.nbytes()));
  }
  writer.finish();
  bar.finish();
  rep.tensors = static_cast<int64_t>(tensors.size());

  if (quantized) {
    rep.description_file = (fs::path(out_dir) / description_file_name(layout, lower_type)).string();
    write_text_file_atomically(rep.description_file, desc_out.dump(2) + "\n");
  }
  if (!files.config_file.empty()) {
    const wan::WanConfig c = wan::settle_image_branch(wan::parse_wan_config_file(files.config_file),
                                                      has_image_tensors(names) , files.config_file);
    write_json_file((fs::path(out_dir) / "config.json").string(), wan_config_json(c, opt.names));
  }
  return rep;
}

}  // namespace

std::vector<ConvertedComponent> convert_checkpoint(const ConvertOptions& opt) {
  if (opt.src.empty()) fail_usage("missing SRC (the checkpoint to rename)");
  if (opt.out.empty()) fail_usage("missing --out DST");
  std::error_code ec;
  if (fs::equivalent(opt.out, opt.src, ec)) fail_usage("--out must differ from SRC");
  const CheckpointLayout layout = detect_layout(opt.src);
  prepare_output_dir(opt.out);
  const bool tree = layout.kind == LayoutKind::DiffusersPipeline || layout.components.size() > 1;
  std::vector<ConvertedComponent> out;
  for (const ComponentFiles& files : layout.components) {
    const std::string dir =
        tree ? (fs::path(opt.out) / component_folder(opt.names, component_expert_index(files.name))).string()
             : opt.out;
    out.push_back(convert_component(files, dir, opt));
  }
  if (tree && opt.names == NameSpace::Diffusers) {
    const std::string src_index = (fs::path(opt.src) / "model_index.json").string();
    const std::string dst_index = (fs::path(opt.out) / "model_index.json").string();
    if (fs::exists(src_index)) {
      fs::copy_file(src_index, dst_index, fs::copy_options::overwrite_existing, ec);
      if (ec) fail_io("cannot copy model_index.json: " + ec.message(), at(dst_index));
    } else {
      write_json_file(dst_index, pipeline_index_json(static_cast<int>(layout.components.size()), 0.875));
    }
  }
  return out;
}

}  // namespace qdit::quantize
