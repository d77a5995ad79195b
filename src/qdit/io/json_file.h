// Reads a small JSON file of a checkpoint (config.json, model_index.json, an index or a description).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace qdit {

// Io error naming the file if it cannot be read, Checkpoint error naming it (with the parser's position) if it
// is not valid JSON. Any JSON value is returned; callers check the shape they need.
nlohmann::json read_json_file(const std::string& path);

}  // namespace qdit
