// The union of several safetensors shards (the files are the truth; an *.safetensors.index.json is only a
// hint: if it disagrees with the files, report a warning, never trust it over the files). A tensor name present
// in two files is a Checkpoint error naming both files.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "qdit/io/safetensors.h"

namespace qdit {

struct StoredTensor {
  std::shared_ptr<SafetensorsFile> file;
  const TensorInfo* info;  // points into file->tensors(); valid as long as `file` lives
};

class TensorStore {
 public:
  static TensorStore open(const std::vector<std::string>& files);
  // As open(), then compares the index's weight_map (and metadata.total_size) against the files. Every
  // disagreement, and an index that cannot be read or parsed, becomes a warning; the files still decide.
  static TensorStore open_with_index(const std::vector<std::string>& files, const std::string& index_json_path);

  const StoredTensor* find(std::string_view name) const;  // nullptr if absent
  std::vector<std::string> names() const;                 // sorted
  Tensor view(const StoredTensor& t) const;
  std::vector<std::string> index_warnings() const;        // index-vs-files disagreements, if an index was given
  const std::vector<std::shared_ptr<SafetensorsFile>>& files() const { return files_; }

 private:
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, StoredTensor, std::less<>> tensors_;
  std::vector<std::string> index_warnings_;
};

}  // namespace qdit
