// Every malformed safetensors file is a Checkpoint error naming the file (and the tensor, where one is at
// fault); none may crash. Images are built byte by byte so each test breaks exactly one rule.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "io/io_test_helpers.h"
#include "qdit/io/safetensors.h"
#include "util/test_util.h"

namespace qdit {
namespace {

using test::expect_error;
using test::safetensors_image;

class Malformed : public ::testing::Test {
 protected:
  // Writes the image and expects opening it to fail with a Checkpoint error containing the path and `parts`.
  std::string expect_open_fails(const std::string& image, std::vector<std::string> parts) {
    const std::string path = dir_.file("bad" + std::to_string(count_++) + ".safetensors");
    test::write_text(path, image);
    parts.push_back(path);
    return expect_error([&] { SafetensorsFile::open(path); }, ErrorKind::Checkpoint, parts);
  }
  test::TempDir dir_;
  int count_ = 0;
};

const std::string kEightBytes(8, '\0');

TEST_F(Malformed, TruncatedDataNamesTheTensorPastTheEnd) {
  const std::string path = dir_.file("full.safetensors");
  write_safetensors(path, {{"blocks.0.w", test::make_tensor_f32({4}, {1, 2, 3, 4})},
                           {"blocks.0.b", Tensor::zeros({2}, DType::I8)}});
  std::string bytes = test::read_text(path);
  // The F32 tensor is laid out first (wider dtypes first), the I8 one last: cutting 1 byte breaks the I8 one.
  expect_open_fails(bytes.substr(0, bytes.size() - 1), {"'blocks.0.b'", "truncated", "past the end of the data area"});
  // Cutting into the F32 data breaks both; the message names one of them and the data-area size.
  expect_open_fails(bytes.substr(0, bytes.size() - 5), {"truncated", "data area size"});
}

TEST_F(Malformed, FileShorterThanTheLengthPrefix) {
  expect_open_fails("", {"too short", "0 bytes"});
  expect_open_fails(std::string("\x05\x00\x00", 3), {"too short", "3 bytes"});
}

TEST_F(Malformed, HeaderLengthPastTheEndOfTheFile) {
  expect_open_fails(safetensors_image("{}", "", 1000), {"runs past the end of the file", "1000 bytes"});
}

TEST_F(Malformed, HeaderLengthAbsurdlyLarge) {
  expect_open_fails(safetensors_image("{}", "", uint64_t{1} << 62),
                    {"absurdly large", "100 MB", std::to_string(uint64_t{1} << 62)});
  expect_open_fails(safetensors_image("{}", "", ~uint64_t{0}), {"absurdly large"});
}

TEST_F(Malformed, InvalidJson) {
  expect_open_fails(safetensors_image(R"({"a": {"dtype": "F32", )", ""), {"not valid JSON"});
  expect_open_fails(safetensors_image("\xff\xfe{}", ""), {"not valid JSON"});
  expect_open_fails(safetensors_image("{\"a\xc3\": 1}", ""), {"not valid JSON", "UTF-8"});  // invalid UTF-8 in a name
}

TEST_F(Malformed, HeaderNotAnObject) {
  expect_open_fails(safetensors_image("[1, 2]", ""), {"not a JSON object", "an array"});
  expect_open_fails(safetensors_image("42", ""), {"not a JSON object"});
}

TEST_F(Malformed, DeepNestingIsRejectedWithoutRecursion) {
  std::string deep = R"({"a":)" + std::string(5000, '[') + std::string(5000, ']') + "}";
  expect_open_fails(safetensors_image(deep, ""), {"nests deeper"});
}

TEST_F(Malformed, UnknownDType) {
  expect_open_fails(safetensors_image(R"({"w":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}})", "x"),
                    {"unknown dtype", "'w'", "'F4'", "F8_E5M2"});
  expect_open_fails(safetensors_image(R"({"w":{"dtype":7,"shape":[2],"data_offsets":[0,1]}})", "x"),
                    {"bad dtype", "'w'"});
}

TEST_F(Malformed, NegativeShape) {
  expect_open_fails(safetensors_image(R"({"w":{"dtype":"F32","shape":[-1,2],"data_offsets":[0,0]}})", ""),
                    {"shape dimension", "'w'", "negative integer -1"});
}

TEST_F(Malformed, NonIntegerShape) {
  expect_open_fails(safetensors_image(R"({"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,10]}})", ""),
                    {"shape dimension", "'w'", "non-integer"});
  expect_open_fails(safetensors_image(R"({"w":{"dtype":"F32","shape":"2","data_offsets":[0,8]}})", ""),
                    {"bad shape", "'w'"});
}

TEST_F(Malformed, OverflowingShape) {
  // 2^32 * 2^32 overflows 64 bits; 2^31 * 2^31 * 4 (bytes per F32) does too, at the byte-size step.
  expect_open_fails(
      safetensors_image(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", ""),
      {"more elements than can be addressed", "'w'"});
  expect_open_fails(
      safetensors_image(R"({"w":{"dtype":"F64","shape":[2147483648,2147483648],"data_offsets":[0,0]}})", ""),
      {"overflows", "'w'"});
  expect_open_fails(
      safetensors_image(R"({"w":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,0]}})", ""),
      {"shape dimension", "'w'"});
}

TEST_F(Malformed, SizeNotNumelTimesDTypeSize) {
  expect_open_fails(
      safetensors_image(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", std::string(12, '\0')),
      {"does not match its dtype and shape", "'w'", "expected 16 bytes (F32 [2, 2])", "found 12 bytes"});
}

TEST_F(Malformed, OffsetsPastTheDataArea) {
  expect_open_fails(
      safetensors_image(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", kEightBytes),
      {"past the end of the data area", "'w'", "end <= 8"});
  expect_open_fails(
      safetensors_image(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,0]}})", kEightBytes),
      {"end before they begin", "'w'"});
  expect_open_fails(
      safetensors_image(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}})", kEightBytes),
      {"bad data_offsets", "'w'"});
  expect_open_fails(
      safetensors_image(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}})", kEightBytes),
      {"data_offsets begin", "'w'"});
}

TEST_F(Malformed, OverlappingRangesNameBothTensors) {
  expect_open_fails(safetensors_image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                      std::string(12, '\0')),
                    {"overlaps", "'a'", "'b'"});
  // Containment is an overlap too, even when the contained range starts at the same offset.
  expect_open_fails(safetensors_image(R"({"big":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                                      R"("small":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}})",
                                      kEightBytes),
                    {"overlaps", "'big'", "'small'"});
}

TEST_F(Malformed, EmptyTensorsNeverOverlap) {
  const std::string path = dir_.file("empties.safetensors");
  test::write_text(path, safetensors_image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                           R"("z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})",
                                           kEightBytes));
  auto f = SafetensorsFile::open(path);
  EXPECT_EQ(f->tensors().size(), 2u);
  EXPECT_EQ(f->view(*f->find("z")).numel(), 0);
}

TEST_F(Malformed, DuplicateNames) {
  expect_open_fails(safetensors_image(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                      R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                                      "ab"),
                    {"duplicate tensor name", "'w'"});
  expect_open_fails(safetensors_image(R"({"w":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}})", "a"),
                    {"duplicate key 'dtype'", "'w'"});
}

TEST_F(Malformed, BadMetadata) {
  expect_open_fails(safetensors_image(R"({"__metadata__":{"format":1}})", ""),
                    {"'__metadata__'", "value of 'format' is not a string"});
  expect_open_fails(safetensors_image(R"({"__metadata__":["pt"]})", ""), {"'__metadata__'", "must be an object"});
  expect_open_fails(safetensors_image(R"({"__metadata__":null})", ""), {"'__metadata__'", "null"});
}

TEST_F(Malformed, EntryShape) {
  expect_open_fails(safetensors_image(R"({"w":[1,2]})", ""), {"bad tensor entry", "'w'"});
  expect_open_fails(safetensors_image(R"({"w":{"dtype":"U8","shape":[1]}})", "a"), {"lacks 'data_offsets'", "'w'"});
  expect_open_fails(
      safetensors_image(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":0}})", "a"),
      {"unexpected key 'extra'", "'w'"});
  expect_open_fails(safetensors_image(R"({"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", "a"),
                    {"empty tensor name"});
}

TEST_F(Malformed, UnreadablePathIsAnIoError) {
  const std::string missing = dir_.path() + "/missing.safetensors";
  expect_error([&] { SafetensorsFile::open(missing); }, ErrorKind::Io, {missing});
  expect_error([&] { SafetensorsFile::open(dir_.path()); }, ErrorKind::Io, {dir_.path(), "not a regular file"});
  const std::string fifo = dir_.path() + "/pipe.safetensors";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  expect_error([&] { SafetensorsFile::open(fifo); }, ErrorKind::Io, {fifo, "not a regular file"});  // never hangs
}

TEST(ParseHeader, ValidHeaderFromMemory) {
  auto h = parse_safetensors_header(
      R"({"__metadata__":{"a":"b"},"y":{"dtype":"BF16","shape":[2,3],"data_offsets":[12,24]},)"
      R"("x":{"dtype":"I32","shape":[3],"data_offsets":[0,12]}}   )",
      24, "mem");
  ASSERT_EQ(h.tensors.size(), 2u);
  EXPECT_EQ(h.tensors[0].name, "x");  // sorted by begin offset, not by name or JSON order
  EXPECT_EQ(h.tensors[0].dtype, DType::I32);
  EXPECT_EQ(h.tensors[1].name, "y");
  EXPECT_EQ(h.tensors[1].shape, (Shape{2, 3}));
  EXPECT_EQ(h.tensors[1].begin, 12u);
  EXPECT_EQ(h.tensors[1].end, 24u);
  EXPECT_EQ(h.metadata.at("a"), "b");
}

TEST(ParseImage, ReportsTheDataArea) {
  std::string img = safetensors_image(R"({"x":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}})", "abc");
  auto image = parse_safetensors_image(reinterpret_cast<const uint8_t*>(img.data()), img.size(), "mem");
  EXPECT_EQ(image.data_offset, img.size() - 3);
  EXPECT_EQ(image.data_size, 3u);
  ASSERT_EQ(image.header.tensors.size(), 1u);
}

}  // namespace
}  // namespace qdit
