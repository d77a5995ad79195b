// Builds the ErrorContext of a problem with a whole file (no tensor, layer or scheme), spelled out so that
// -Wextra's missing-initializer warning has nothing to say about the fields left empty.
#pragma once
#include <string>

#include "qdit/core/error.h"

namespace qdit::wan {

inline ErrorContext file_context(std::string file, std::string expected = {}, std::string found = {}) {
  ErrorContext c;
  c.file = std::move(file);
  c.expected = std::move(expected);
  c.found = std::move(found);
  return c;
}

}  // namespace qdit::wan
