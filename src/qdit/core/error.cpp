#include "qdit/core/error.h"

namespace qdit {

std::string format_error(const std::string& message, const ErrorContext& c) {
  std::string where;
  auto add = [&where](const std::string& s) {
    if (s.empty()) return;
    if (!where.empty()) where += ", ";
    where += s;
  };
  if (!c.file.empty()) add("file " + c.file);
  if (!c.tensor.empty()) {
    std::string t = "tensor '" + c.tensor + "'";
    if (!c.canonical.empty() && c.canonical != c.tensor) t += " (canonical '" + c.canonical + "')";
    add(t);
  } else if (!c.canonical.empty()) {
    add("tensor '" + c.canonical + "'");
  }
  if (!c.layer.empty()) add("layer " + c.layer);
  if (!c.scheme.empty()) add("scheme " + c.scheme);
  std::string out = message;
  if (!where.empty()) out += " [" + where + "]";
  if (!c.expected.empty() || !c.found.empty()) {
    out += ":";
    if (!c.expected.empty()) out += " expected " + c.expected;
    if (!c.found.empty()) out += (c.expected.empty() ? " found " : ", found ") + c.found;
  }
  return out;
}

Error::Error(ErrorKind kind, std::string message, ErrorContext ctx)
    : std::runtime_error(format_error(message, ctx)),
      kind_(kind),
      message_(std::move(message)),
      ctx_(std::move(ctx)) {}

}  // namespace qdit
