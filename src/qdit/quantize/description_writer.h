// Builds quant_model_description*.json as msModelSlim writes it: one flat object, metadata keys first, then
// every tensor written, in write order, mapped to the type string of the layer it belongs to ("FLOAT" for biases
// of quantized layers, norms, modulation tables, embedders and excluded layers).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "qdit/quantize/output_layout.h"

namespace qdit::quantize {

class DescriptionWriter {
 public:
  // Records `tensor` (its name as written in the weights file) with `type`. Listing a tensor twice is an
  // Internal error: the description would no longer say which entry is true.
  void add(const std::string& tensor, const std::string& type);

  // The highest-priority type present, by the AscendV1 saver's QUANT_TYPE_PRIORITY
  // (FLOAT < W8A16 < W8A8_DYNAMIC < W8A8 < W4A4_DYNAMIC); "FLOAT" when nothing is quantized.
  std::string model_quant_type() const;

  // The JSON text (2-space indented). AscendV1 style adds "version": "1.0.0", "group_size": 0, "metadata": {}.
  std::string to_json_text(bool ascendv1_metadata) const;

  // Writes to `path` through a temporary file and a rename, so a crash never leaves a half-written description.
  void write(const std::string& path, bool ascendv1_metadata) const;

  size_t size() const { return order_.size(); }
  const std::string& type_of(const std::string& tensor) const;

 private:
  std::vector<std::string> order_;
  std::map<std::string, std::string> types_;
};

// Writes `text` to `path` via `path + ".tmp"` and rename(); I/O failures are Io errors naming the file.
void write_text_file_atomically(const std::string& path, const std::string& text);

}  // namespace qdit::quantize
