#include "qdit/io/tensor_store.h"

#include <filesystem>
#include <set>

#include "qdit/core/error.h"
#include "qdit/io/json_file.h"

namespace qdit {

namespace {

std::string base_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

}  // namespace

TensorStore TensorStore::open(const std::vector<std::string>& files) {
  if (files.empty()) fail_checkpoint("no safetensors files to open");
  TensorStore store;
  for (const std::string& path : files) {
    auto file = SafetensorsFile::open(path);
    for (const TensorInfo& info : file->tensors()) {
      auto [it, inserted] = store.tensors_.emplace(info.name, StoredTensor{file, &info});
      if (!inserted) {
        ErrorContext c;
        c.file = path;
        c.tensor = info.name;
        c.expected = "each tensor in exactly one file";
        c.found = "also in " + it->second.file->path();
        fail_checkpoint("tensor present in two safetensors files", c);
      }
    }
    store.files_.push_back(std::move(file));
  }
  return store;
}

TensorStore TensorStore::open_with_index(const std::vector<std::string>& files, const std::string& index_json_path) {
  TensorStore store = open(files);
  std::vector<std::string>& warn = store.index_warnings_;
  const std::string prefix = "index " + index_json_path + ": ";
  nlohmann::json index;
  try {
    index = read_json_file(index_json_path);
  } catch (const Error& e) {
    warn.push_back(prefix + "ignored, cannot be used: " + e.what());
    return store;
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    warn.push_back(prefix + "ignored: expected an object with a \"weight_map\" object");
    return store;
  }

  std::set<std::string> given_files;
  for (const auto& f : store.files_) given_files.insert(base_name(f->path()));
  std::set<std::string> listed_files_missing;
  std::set<std::string> listed_tensors;
  for (const auto& [name, file_value] : index["weight_map"].items()) {
    listed_tensors.insert(name);
    if (!file_value.is_string()) {
      warn.push_back(prefix + "tensor '" + name + "' maps to " + file_value.dump() + ", not a file name");
      continue;
    }
    const std::string listed = file_value.get<std::string>();
    if (!given_files.count(listed)) listed_files_missing.insert(listed);
    const StoredTensor* actual = store.find(name);
    if (!actual) {
      warn.push_back(prefix + "lists tensor '" + name + "' in " + listed + ", but no file holds it");
    } else if (base_name(actual->file->path()) != listed) {
      warn.push_back(prefix + "lists tensor '" + name + "' in " + listed + ", but it is in " +
                     base_name(actual->file->path()));
    }
  }
  for (const std::string& f : listed_files_missing)
    warn.push_back(prefix + "names file " + f + ", which is not among the checkpoint's files");
  for (const auto& [name, stored] : store.tensors_)
    if (!listed_tensors.count(name))
      warn.push_back(prefix + "does not list tensor '" + name + "' (in " + base_name(stored.file->path()) + ")");

  if (index.contains("metadata") && index["metadata"].is_object() && index["metadata"].contains("total_size")) {
    const nlohmann::json& total = index["metadata"]["total_size"];
    uint64_t actual_total = 0;
    for (const auto& [name, stored] : store.tensors_) actual_total += stored.info->end - stored.info->begin;
    if (!total.is_number_unsigned() || total.get<uint64_t>() != actual_total)
      warn.push_back(prefix + "metadata.total_size is " + total.dump() + ", but the files hold " +
                     std::to_string(actual_total) + " bytes of tensor data");
  }
  return store;
}

const StoredTensor* TensorStore::find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

std::vector<std::string> TensorStore::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, stored] : tensors_) out.push_back(name);
  return out;
}

Tensor TensorStore::view(const StoredTensor& t) const { return t.file->view(*t.info); }

std::vector<std::string> TensorStore::index_warnings() const { return index_warnings_; }

}  // namespace qdit
