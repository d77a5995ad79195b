// Helpers for the io tests: hand-made safetensors images and error assertions.
#pragma once
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "qdit/core/error.h"

namespace qdit::test {

// A safetensors file image built byte by byte: 8-byte little-endian length, header text, data.
inline std::string safetensors_image(const std::string& header, const std::string& data, uint64_t claimed_len) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((claimed_len >> (8 * i)) & 0xff);
  return out + header + data;
}
inline std::string safetensors_image(const std::string& header, const std::string& data) {
  return safetensors_image(header, data, header.size());
}

// Runs fn, expects a qdit::Error of `kind` whose message contains every string of `parts`; returns the message.
// QDIT_PRINT_ERRORS=1 prints every message caught, to review their wording.
inline std::string expect_error(const std::function<void()>& fn, ErrorKind kind, const std::vector<std::string>& parts) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(kind)) << e.what();
    if (std::getenv("QDIT_PRINT_ERRORS")) std::printf("  error: %s\n", e.what());
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "missing '" << p << "' in: " << e.what();
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected qdit::Error, got another exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected a qdit::Error, nothing was thrown";
  return {};
}

}  // namespace qdit::test
