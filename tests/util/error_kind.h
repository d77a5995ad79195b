// error_kind_of: which kind of qdit::Error a call throws (tests that check the error taxonomy).
#pragma once
#include <gtest/gtest.h>

#include "qdit/core/error.h"

namespace qdit::test {

// The kind of the qdit::Error fn throws; a test failure (and Internal) when it throws none.
template <class Fn>
ErrorKind error_kind_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.kind();
  }
  ADD_FAILURE() << "no qdit::Error thrown";
  return ErrorKind::Internal;
}

}  // namespace qdit::test
