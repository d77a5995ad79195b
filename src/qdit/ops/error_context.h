// Builds the ErrorContext of an op failure field by field (designated initialisers that skip fields trip
// -Wmissing-field-initializers under -Wextra).
#pragma once
#include <string>

#include "qdit/core/error.h"

namespace qdit::ops {

inline ErrorContext expected_found(std::string expected, std::string found = {}, std::string layer = {},
                                   std::string scheme = {}) {
  ErrorContext c;
  c.expected = std::move(expected);
  c.found = std::move(found);
  c.layer = std::move(layer);
  c.scheme = std::move(scheme);
  return c;
}

}  // namespace qdit::ops
