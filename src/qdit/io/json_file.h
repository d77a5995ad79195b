// Reads a small JSON file of a checkpoint (config.json, model_index.json, an index or a description).
#pragma once
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace qdit {

// Checkpoint JSON files (config.json, model_index.json, indexes, descriptions) nest four levels at most.
// nlohmann's parser is iterative, but dump(), copies and comparisons of the parsed value recurse once per level,
// so a file nesting a few million brackets would overflow the stack there; the bound keeps that out.
inline constexpr int kMaxCheckpointJsonDepth = 64;

// Checkpoint error naming `path` when `text` opens more than kMaxCheckpointJsonDepth arrays/objects inside one
// another (brackets inside strings do not count). One linear pass that builds nothing: call it before parsing.
void check_json_nesting(std::string_view text, const std::string& path);

// Io error naming the file if it cannot be read, Checkpoint error naming it (with the parser's position) if it
// is not valid JSON or nests deeper than kMaxCheckpointJsonDepth. Any JSON value is returned; callers check the
// shape they need.
nlohmann::json read_json_file(const std::string& path);

}  // namespace qdit
