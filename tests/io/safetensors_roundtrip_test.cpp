// Writer -> reader round trips, checked against a hand-written decoding of the format (8-byte little-endian
// length, JSON header, data area), so the writer and the reader cannot agree on a wrong format.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "io/io_test_helpers.h"
#include "qdit/io/safetensors.h"
#include "util/test_util.h"

namespace qdit {
namespace {

using test::Rng;
using test::TempDir;

constexpr DType kAllDTypes[] = {DType::F64, DType::F32, DType::F16, DType::BF16,   DType::I64,     DType::I32,
                                DType::I16, DType::I8,  DType::U8,  DType::BOOL,   DType::F8_E4M3, DType::F8_E5M2};

Tensor random_bytes_tensor(const Shape& shape, DType dtype, Rng& rng) {
  Tensor t = Tensor::empty(shape, dtype);
  auto* p = static_cast<uint8_t*>(t.raw());
  for (size_t i = 0; i < t.nbytes(); ++i) p[i] = static_cast<uint8_t>(rng.next_u64());
  if (dtype == DType::BOOL)
    for (size_t i = 0; i < t.nbytes(); ++i) p[i] &= 1;
  return t;
}

std::string bytes_of(const Tensor& t) { return std::string(static_cast<const char*>(t.raw()), t.nbytes()); }

struct Decoded {
  uint64_t header_len = 0;
  nlohmann::json header;
  std::string data;
};
// The reference decoding: plain reads of the bytes, no qdit code involved.
Decoded decode_by_hand(const std::string& path) {
  std::string file = test::read_text(path);
  Decoded d;
  for (int i = 7; i >= 0; --i) d.header_len = (d.header_len << 8) | static_cast<uint8_t>(file[i]);
  d.header = nlohmann::json::parse(file.substr(8, d.header_len));
  d.data = file.substr(8 + d.header_len);
  return d;
}

TEST(SafetensorsRoundTrip, EveryDTypeWithMetadataMatchesTheFormatAndReadsBack) {
  TempDir dir;
  Rng rng(7);
  std::vector<std::pair<std::string, Tensor>> tensors;
  // Odd element counts for every dtype, declared small-first, so a naive layout would misalign the wide types.
  for (DType d : kAllDTypes) {
    std::string name = "t." + std::string(dtype_name(d));
    tensors.emplace_back(name, random_bytes_tensor({3, 5}, d, rng));
  }
  std::reverse(tensors.begin(), tensors.end());
  tensors.emplace_back("scalar", test::make_tensor_f32({}, {2.5f}));
  tensors.emplace_back("empty", Tensor::empty({0, 4}, DType::BF16));
  std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "round trip"}};
  const std::string path = dir.file("all.safetensors");
  write_safetensors(path, tensors, meta);

  // Independent check of the bytes on disk.
  Decoded d = decode_by_hand(path);
  EXPECT_EQ((8 + d.header_len) % 8, 0u) << "data area must start 8-byte aligned";
  EXPECT_EQ(d.header["__metadata__"], nlohmann::json(meta));
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, t] : tensors) {
    const auto& e = d.header.at(name);
    EXPECT_EQ(e.at("dtype").get<std::string>(), dtype_name(t.dtype())) << name;
    EXPECT_EQ(e.at("shape").get<Shape>(), t.shape()) << name;
    uint64_t b = e.at("data_offsets")[0], en = e.at("data_offsets")[1];
    EXPECT_EQ(en - b, t.nbytes()) << name;
    EXPECT_EQ(b % dtype_size(t.dtype()), 0u) << name << " is not aligned for its dtype";
    EXPECT_EQ(d.data.substr(b, en - b), bytes_of(t)) << name;
    ranges.emplace_back(b, en);
  }
  std::sort(ranges.begin(), ranges.end());
  uint64_t expect_begin = 0;
  for (auto [b, e] : ranges) {
    EXPECT_EQ(b, expect_begin) << "the data area must have no holes";
    expect_begin = e;
  }
  EXPECT_EQ(expect_begin, d.data.size());

  // And the reader.
  auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->path(), path);
  EXPECT_EQ(file->metadata(), meta);
  EXPECT_EQ(file->file_size(), std::filesystem::file_size(path));
  ASSERT_EQ(file->tensors().size(), tensors.size());
  for (size_t i = 1; i < file->tensors().size(); ++i)
    EXPECT_LE(file->tensors()[i - 1].begin, file->tensors()[i].begin) << "tensors() must be sorted by offset";
  for (const auto& [name, t] : tensors) {
    const TensorInfo* info = file->find(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(info->dtype, t.dtype());
    EXPECT_EQ(info->shape, t.shape());
    Tensor v = file->view(*info);
    EXPECT_EQ(v.dtype(), t.dtype());
    EXPECT_EQ(v.shape(), t.shape());
    EXPECT_EQ(v.device(), Device::CPU);
    EXPECT_EQ(bytes_of(v), bytes_of(t)) << name;
  }
  EXPECT_EQ(file->find("absent"), nullptr);
  EXPECT_EQ(element_as_double(file->view(*file->find("scalar")), 0), 2.5);
}

TEST(SafetensorsRoundTrip, ValuesSurviveExactly) {
  TempDir dir;
  const std::string path = dir.file("v.safetensors");
  Tensor w = test::make_tensor_f32({2, 3}, {1.5f, -2.0f, 0.0f, 3.25e-8f, -1e30f, 7.0f});
  Tensor q = Tensor::empty({4}, DType::I8);
  int8_t qv[4] = {-128, -1, 0, 127};
  std::memcpy(q.raw(), qv, 4);
  Tensor s = Tensor::empty({2}, DType::I64);
  int64_t sv[2] = {INT64_MIN, 0x3f800000};
  std::memcpy(s.raw(), sv, 16);
  write_safetensors(path, {{"w", w}, {"q", q}, {"s", s}});
  auto f = SafetensorsFile::open(path);
  Tensor wv = f->view(*f->find("w"));
  const double expect_w[] = {1.5, -2.0, 0.0, static_cast<double>(3.25e-8f), static_cast<double>(-1e30f), 7.0};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(element_as_double(wv, i), expect_w[i]) << i;
  Tensor qvv = f->view(*f->find("q"));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(qvv.data<int8_t>()[i], qv[i]);
  Tensor sview = f->view(*f->find("s"));
  EXPECT_EQ(sview.data<int64_t>()[0], INT64_MIN);
  EXPECT_EQ(sview.data<int64_t>()[1], 0x3f800000);
}

TEST(SafetensorsRoundTrip, ViewsAreZeroCopyAndKeepTheMappingAlive) {
  TempDir dir;
  const std::string path = dir.file("z.safetensors");
  Rng rng(3);
  Tensor w = test::random_normal_f32({16, 8}, rng);
  write_safetensors(path, {{"w", w}});
  auto f = SafetensorsFile::open(path);
  Tensor a = f->view(*f->find("w"));
  Tensor b = f->view(*f->find("w"));
  EXPECT_EQ(a.raw(), b.raw()) << "two views of one tensor must share the mapping, not copy";
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.raw()) % 4, 0u);
  f.reset();  // the views alone now keep the mapping
  EXPECT_EQ(bytes_of(a), bytes_of(w));
}

TEST(SafetensorsRoundTrip, MisalignedForeignDataIsCopiedAligned) {
  // A foreign writer may place an F32 tensor at an odd offset: one U8 byte first, then F32 [2] at offset 1.
  TempDir dir;
  const std::string header = R"({"u":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                             R"("f":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})";
  float vals[2] = {1.25f, -3.5f};
  std::string data(1, '\x7f');
  data.append(reinterpret_cast<const char*>(vals), 8);
  const std::string path = dir.file("m.safetensors");
  test::write_text(path, test::safetensors_image(header, data));
  auto f = SafetensorsFile::open(path);
  Tensor t = f->view(*f->find("f"));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 4, 0u);
  EXPECT_EQ(t.data<float>()[0], 1.25f);
  EXPECT_EQ(t.data<float>()[1], -3.5f);
  EXPECT_EQ(f->view(*f->find("u")).data<uint8_t>()[0], 0x7f);
}

TEST(SafetensorsRoundTrip, EmptyFileHasNoTensors) {
  TempDir dir;
  const std::string path = dir.file("e.safetensors");
  write_safetensors(path, {});
  auto f = SafetensorsFile::open(path);
  EXPECT_TRUE(f->tensors().empty());
  EXPECT_TRUE(f->metadata().empty());
  Decoded d = decode_by_hand(path);
  EXPECT_TRUE(d.header.is_object());
  EXPECT_TRUE(d.data.empty());
}

TEST(SafetensorsRoundTrip, ViewOfAForeignTensorInfoIsRefused) {
  TempDir dir;
  const std::string path = dir.file("f.safetensors");
  write_safetensors(path, {{"w", test::make_tensor_f32({2}, {1, 2})}});
  auto f = SafetensorsFile::open(path);
  TensorInfo bogus = *f->find("w");
  bogus.end = 1 << 20;
  bogus.shape = {1 << 18};
  test::expect_error([&] { f->view(bogus); }, ErrorKind::Internal, {path, "'w'"});
}

// ---- streaming writer -------------------------------------------------------------------------------------

TEST(SafetensorsWriter, StreamsInDeclarationOrder) {
  TempDir dir;
  const std::string path = dir.file("s.safetensors");
  Rng rng(11);
  Tensor a = test::random_uniform_f32({4, 4}, rng), b = random_bytes_tensor({3}, DType::I8, rng);
  {
    SafetensorsWriter w(path);
    w.set_metadata({{"k", "v"}});
    w.declare("b", DType::I8, {3});
    w.declare("a", DType::F32, {4, 4});
    w.write("b", b.raw(), b.nbytes());
    EXPECT_FALSE(std::filesystem::exists(path)) << "the target appears only at finish()";
    w.write("a", a.raw(), a.nbytes());
    w.finish();
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  auto f = SafetensorsFile::open(path);
  EXPECT_EQ(bytes_of(f->view(*f->find("a"))), bytes_of(a));
  EXPECT_EQ(bytes_of(f->view(*f->find("b"))), bytes_of(b));
  EXPECT_EQ(f->metadata().at("k"), "v");
}

TEST(SafetensorsWriter, MisuseIsAnInternalErrorNamingTheTensor) {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  float x[4] = {};
  {
    SafetensorsWriter w(path);
    w.declare("first", DType::F32, {2});
    w.declare("second", DType::F32, {2});
    test::expect_error([&] { w.write("second", x, 8); }, ErrorKind::Internal, {"'first'", "'second'", "order"});
  }
  {
    SafetensorsWriter w(path);
    w.declare("first", DType::F32, {2});
    test::expect_error([&] { w.write("first", x, 16); }, ErrorKind::Internal, {"'first'", "8 bytes", "16 bytes"});
  }
  {
    SafetensorsWriter w(path);
    w.declare("first", DType::F32, {2});
    test::expect_error([&] { w.declare("first", DType::F32, {2}); }, ErrorKind::Internal, {"declared twice"});
    w.write("first", x, 8);
    test::expect_error([&] { w.declare("late", DType::F32, {2}); }, ErrorKind::Internal, {"'late'", "after writing"});
    test::expect_error([&] { w.write("first", x, 8); }, ErrorKind::Internal, {"'first'"});
    test::expect_error([&] { w.write("never", x, 8); }, ErrorKind::Internal, {"'never'", "never declared"});
  }
  {
    SafetensorsWriter w(path);
    w.declare("first", DType::F32, {2});
    w.declare("second", DType::F32, {1});
    w.write("first", x, 8);
    test::expect_error([&] { w.finish(); }, ErrorKind::Internal, {"'second'", "2 tensors", "1 written"});
  }
  EXPECT_FALSE(std::filesystem::exists(path)) << "no failed writer may leave the target behind";
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp")) << "an abandoned writer removes its temporary file";
}

TEST(SafetensorsWriter, InterruptedWriteLeavesThePreviousFileIntact) {
  TempDir dir;
  const std::string path = dir.file("keep.safetensors");
  write_safetensors(path, {{"old", test::make_tensor_f32({1}, {42.0f})}});
  const std::string before = test::read_text(path);
  {
    SafetensorsWriter w(path);
    w.declare("new", DType::F32, {1});
    w.declare("more", DType::F32, {1});
    float v = 1.0f;
    w.write("new", &v, 4);
  }  // destroyed without finish(), as if the quantizer had failed halfway
  EXPECT_EQ(test::read_text(path), before);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(SafetensorsWriter, UnwritableTargetIsAnIoErrorNamingTheFile) {
  TempDir dir;
  const std::string path = dir.path() + "/no/such/folder/x.safetensors";
  test::expect_error([&] { write_safetensors(path, {{"a", test::make_tensor_f32({1}, {1})}}); }, ErrorKind::Io,
                     {path + ".tmp"});
}

}  // namespace
}  // namespace qdit
