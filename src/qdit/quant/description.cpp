#include "qdit/quant/description.h"

#include <array>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "qdit/core/error.h"
#include "qdit/io/json_file.h"

namespace qdit::quant {

namespace {

// modelslim-format.md §1.2: string-valued keys that are metadata, not tensor names.
constexpr std::array<std::string_view, 18> kStringMetadataKeys = {
    "model_quant_type", "version",          "group_size",      "kv_cache_type",          "kv_quant_type",
    "fa_quant_type",    "indexer_quant_type", "reduce_quant_type", "metadata",            "optional",
    "is_rot_used",      "model_quant_type_second", "kv_cache_type_second", "ignore", "packed_modules_mapping",
    "ascend_quant_method", "weight_strategy", "max_supported_tp",
};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// nlohmann reports a byte offset; users need a line and a column to find the fault in an editor.
std::string line_column(const std::string& text, size_t byte) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

int64_t parse_group_size(const nlohmann::json& v, const std::string& path) {
  ErrorContext ctx;
  ctx.file = path;
  ctx.tensor = "group_size";
  ctx.expected = "a non-negative integer or a decimal string";
  if (v.is_number_integer()) {
    int64_t g = v.get<int64_t>();
    if (g < 0) {
      ctx.found = std::to_string(g);
      fail_checkpoint("invalid group_size in quantization description", ctx);
    }
    return g;
  }
  if (v.is_number_unsigned()) {
    uint64_t g = v.get<uint64_t>();
    if (g > static_cast<uint64_t>(INT64_MAX)) {
      ctx.found = std::to_string(g);
      fail_checkpoint("invalid group_size in quantization description", ctx);
    }
    return static_cast<int64_t>(g);
  }
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    // Digits only, at most 18 of them so the value cannot overflow int64.
    bool ok = !s.empty() && s.size() <= 18;
    for (char c : s) ok = ok && c >= '0' && c <= '9';
    if (ok) return std::stoll(s);
  }
  ctx.found = v.dump();
  fail_checkpoint("invalid group_size in quantization description", ctx);
}

}  // namespace

const std::string* Description::type_of(const std::string& tensor) const {
  auto it = entries.find(tensor);
  return it == entries.end() ? nullptr : &it->second;
}

bool is_metadata_key(std::string_view key) {
  for (auto k : kStringMetadataKeys)
    if (k == key) return true;
  // Per-attention-layer FA3 strategy ("<attn>.quant_type") and DSA indexer ("<attn>.indexer.quant_type").
  return ends_with(key, ".quant_type");
}

Description parse_description_text(const std::string& text, const std::string& path) {
  check_json_nesting(text, path);
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    ErrorContext ctx;
    ctx.file = path;
    ctx.expected = "valid JSON";
    ctx.found = "a syntax error at " + line_column(text, e.byte == 0 ? 0 : e.byte - 1);
    fail_checkpoint("quantization description is not valid JSON", ctx);
  } catch (const nlohmann::json::exception& e) {
    // Not every rejection is a parse_error: a number literal beyond double range (1E400) is an out_of_range
    // (406) that names the literal but carries no position.
    ErrorContext ctx;
    ctx.file = path;
    ctx.expected = "valid JSON";
    ctx.found = e.what();
    fail_checkpoint("quantization description is not valid JSON", ctx);
  }
  if (!root.is_object()) {
    ErrorContext ctx;
    ctx.file = path;
    ctx.expected = "a JSON object";
    ctx.found = std::string("a JSON ") + root.type_name();
    fail_checkpoint("quantization description is not a JSON object", ctx);
  }

  Description d;
  d.path = path;
  d.entries.reserve(root.size());
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& v = it.value();
    if (!v.is_string() || is_metadata_key(key)) {
      d.metadata[key] = v.dump();
      continue;
    }
    d.entries.emplace(key, v.get<std::string>());
  }

  if (auto it = root.find("model_quant_type"); it != root.end()) {
    if (!it->is_string()) {
      ErrorContext ctx{path, "model_quant_type", "", "", "", "a string", it->dump()};
      fail_checkpoint("invalid model_quant_type in quantization description", ctx);
    }
    d.model_quant_type = it->get<std::string>();
  }
  if (auto it = root.find("version"); it != root.end()) {
    if (!it->is_string()) {
      ErrorContext ctx{path, "version", "", "", "", "a string such as \"1.0.0\"", it->dump()};
      fail_checkpoint("invalid version in quantization description", ctx);
    }
    d.version = it->get<std::string>();
  }
  if (auto it = root.find("group_size"); it != root.end()) d.group_size = parse_group_size(*it, path);
  return d;
}

Description parse_description_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ErrorContext ctx;
    ctx.file = path;
    fail_io("cannot open quantization description", ctx);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    ErrorContext ctx;
    ctx.file = path;
    fail_io("cannot read quantization description", ctx);
  }
  return parse_description_text(ss.str(), path);
}

}  // namespace qdit::quant
