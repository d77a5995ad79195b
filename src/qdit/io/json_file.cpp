#include "qdit/io/json_file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "qdit/core/error.h"

namespace qdit {

nlohmann::json read_json_file(const std::string& path) {
  ErrorContext ctx;
  ctx.file = path;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail_io("expected a JSON file, found a directory", ctx);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_io("cannot open JSON file: " + std::string(std::strerror(errno)), ctx);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail_io("cannot read JSON file", ctx);
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    ctx.expected = "valid JSON";
    ctx.found = e.what();
    fail_checkpoint("invalid JSON", ctx);
  }
}

}  // namespace qdit
