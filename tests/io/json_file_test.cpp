// read_json_file and its nesting bound. The bound exists because nlohmann parses deep input iteratively but
// dumps, copies and compares it recursively: a description or index nesting ~10^6 brackets crashed qdit with a
// stack overflow in dump() (found while writing fuzz/description_fuzz).
#include <gtest/gtest.h>

#include <string>

#include "io_test_helpers.h"
#include "qdit/core/error.h"
#include "qdit/io/json_file.h"
#include "util/test_util.h"

namespace qdit {
namespace {

std::string nested_arrays(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonNesting, AcceptsTheBoundAndRejectsOneLevelMore) {
  // The top-level object is level 1.
  const std::string at_bound = "{\"a\": " + nested_arrays(kMaxCheckpointJsonDepth - 1) + "}";
  EXPECT_NO_THROW(check_json_nesting(at_bound, "f.json"));
  const std::string past = "{\"a\": " + nested_arrays(kMaxCheckpointJsonDepth) + "}";
  test::expect_error([&] { check_json_nesting(past, "/c/f.json"); }, ErrorKind::Checkpoint,
                     {"/c/f.json", "at most 64 nested", "level 65 at byte 69"});
  // Siblings do not add up: only nesting counts.
  std::string wide = "[";
  for (int i = 0; i < 1000; ++i) wide += nested_arrays(kMaxCheckpointJsonDepth - 1) + ",";
  wide += "0]";
  EXPECT_NO_THROW(check_json_nesting(wide, "f.json"));
}

TEST(JsonNesting, BracketsInsideStringsDoNotCount) {
  const std::string deep_in_strings = "{\"" + std::string(200, '[') + "\": \"" + std::string(200, '{') +
                                      "\\\"" + std::string(200, '[') + "\"}";
  EXPECT_NO_THROW(check_json_nesting(deep_in_strings, "f.json"));
  // An escaped backslash before the closing quote ends the string: the brackets after it count again.
  const std::string after_escaped_backslash = "[\"\\\\\"," + nested_arrays(kMaxCheckpointJsonDepth) + "]";
  test::expect_error([&] { check_json_nesting(after_escaped_backslash, "f.json"); }, ErrorKind::Checkpoint,
                     {"level 65"});
}

TEST(JsonFile, DeepFileIsACheckpointErrorNotAStackOverflow) {
  test::TempDir dir;
  const std::string path = dir.file("model.safetensors.index.json");
  test::write_text(path, "{\"weight_map\": {\"a\": " + nested_arrays(2'000'000) + "}}");
  test::expect_error([&] { read_json_file(path); }, ErrorKind::Checkpoint, {path, "nests deeper"});
  test::write_text(path, "{\"weight_map\": {\"a\": \"model.safetensors\"}}");
  EXPECT_EQ(read_json_file(path)["weight_map"]["a"], "model.safetensors");
}

}  // namespace
}  // namespace qdit
