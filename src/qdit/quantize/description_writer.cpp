#include "qdit/quantize/description_writer.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "qdit/core/error.h"

namespace qdit::quantize {

namespace {
ErrorContext tensor_ctx(const std::string& tensor) {
  ErrorContext c;
  c.tensor = tensor;
  return c;
}
ErrorContext file_ctx(const std::string& file) {
  ErrorContext c;
  c.file = file;
  return c;
}

// The part of msModelSlim's QUANT_TYPE_PRIORITY (MS-v1 saver) covering what qdit writes.
int priority(const std::string& type) {
  static const char* const kOrder[] = {"FLOAT", "W8A16", "W8A8_DYNAMIC", "W8A8", "W4A4_DYNAMIC"};
  for (int i = 0; i < static_cast<int>(std::size(kOrder)); ++i)
    if (type == kOrder[i]) return i;
  fail_internal("description: type '" + type + "' has no priority (qdit does not write it)");
}
}  // namespace

void DescriptionWriter::add(const std::string& tensor, const std::string& type) {
  priority(type);  // validates the type string
  auto [it, inserted] = types_.emplace(tensor, type);
  if (!inserted) fail_internal("description: tensor '" + tensor + "' listed twice", tensor_ctx(tensor));
  order_.push_back(tensor);
}

std::string DescriptionWriter::model_quant_type() const {
  std::string best = "FLOAT";
  for (const auto& [name, type] : types_)
    if (priority(type) > priority(best)) best = type;
  return best;
}

const std::string& DescriptionWriter::type_of(const std::string& tensor) const {
  auto it = types_.find(tensor);
  if (it == types_.end()) fail_internal("description: no entry for '" + tensor + "'", tensor_ctx(tensor));
  return it->second;
}

std::string DescriptionWriter::to_json_text(bool ascendv1_metadata) const {
  nlohmann::ordered_json j;
  j["model_quant_type"] = model_quant_type();
  if (ascendv1_metadata) {
    j["version"] = "1.0.0";
    j["group_size"] = 0;
    j["metadata"] = nlohmann::ordered_json::object();
  }
  for (const auto& name : order_) j[name] = types_.at(name);
  return j.dump(2) + "\n";
}

void DescriptionWriter::write(const std::string& path, bool ascendv1_metadata) const {
  write_text_file_atomically(path, to_json_text(ascendv1_metadata));
}

void write_text_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) fail_io("cannot create file", file_ctx(tmp));
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    f.flush();
    if (!f) fail_io("cannot write file (disk full?)", file_ctx(tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail_io("cannot rename " + tmp + " into place", file_ctx(path));
}

}  // namespace qdit::quantize
