#include "qdit/io/json_file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "qdit/core/error.h"

namespace qdit {

void check_json_nesting(std::string_view text, const std::string& path) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (ch == '\\') {
        escaped = true;
      } else if (ch == '"') {
        in_string = false;
      }
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > kMaxCheckpointJsonDepth) {
        ErrorContext ctx;
        ctx.file = path;
        ctx.expected = "at most " + std::to_string(kMaxCheckpointJsonDepth) + " nested arrays/objects";
        ctx.found = "level " + std::to_string(depth) + " at byte " + std::to_string(i);
        fail_checkpoint("JSON file nests deeper than any checkpoint file", ctx);
      }
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      --depth;  // an unbalanced bracket is the parser's to report
    }
  }
}

nlohmann::json read_json_file(const std::string& path) {
  ErrorContext ctx;
  ctx.file = path;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail_io("expected a JSON file, found a directory", ctx);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_io("cannot open JSON file: " + std::string(std::strerror(errno)), ctx);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail_io("cannot read JSON file", ctx);
  const std::string text = buffer.str();
  check_json_nesting(text, path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    ctx.expected = "valid JSON";
    ctx.found = e.what();
    fail_checkpoint("invalid JSON", ctx);
  }
}

}  // namespace qdit
