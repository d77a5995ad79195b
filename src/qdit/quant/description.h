// The ModelSlim description file (`quant_model_description*.json`): one flat JSON object whose keys are either
// top-level metadata (model_quant_type, version, group_size, ...) or full tensor names mapped to the type string
// of the layer the tensor belongs to. The names stay in the description's own namespace here; the load plan maps
// them to canonical names through the same name map it uses for the checkpoint's tensors.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace qdit::quant {

struct Description {
  std::string path;                  // the file it was read from (for error messages)
  std::string model_quant_type;      // informational only: never decides a layer's scheme
  std::optional<std::string> version;  // "1.0.0" means W4A8 weights are int4x2 packed along N
  // Top-level group size; 0 means per-channel. Accepted as an int or as a decimal string ("256").
  int64_t group_size = 0;
  // Every metadata key with its value re-serialised as compact JSON (strings keep their quotes), so nothing the
  // file said is lost, yet no JSON type leaks into this header.
  std::map<std::string, std::string> metadata;
  // Tensor name (as written) -> type string (as written, e.g. "W8A8_DYNAMIC", "FLOAT").
  std::unordered_map<std::string, std::string> entries;

  bool is_version_1() const { return version && *version == "1.0.0"; }
  // The type string for `tensor`, or nullptr when the description has no entry for it.
  const std::string* type_of(const std::string& tensor) const;
};

// True for the top-level keys that are metadata even when their value is a string (model_quant_type, version,
// kv_cache_type, fa_quant_type, ..., and any "<prefix>.quant_type"). Keys with a non-string value are metadata
// regardless of their name.
bool is_metadata_key(std::string_view key);

// Parses the text of a description file. Invalid JSON (with line and column), a top-level value that is not an
// object, a malformed group_size / version / model_quant_type, or a tensor entry whose value is not a string
// metadata key are Checkpoint errors naming `path` (and the key).
Description parse_description_text(const std::string& text, const std::string& path);
// Reads and parses `path`; an unreadable file is an Io error naming it.
Description parse_description_file(const std::string& path);

}  // namespace qdit::quant
