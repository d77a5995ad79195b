// Sharded checkpoints: the files decide, an index is only compared against them.
#include <gtest/gtest.h>

#include <algorithm>

#include "io/io_test_helpers.h"
#include "qdit/io/tensor_store.h"
#include "util/test_util.h"

namespace qdit {
namespace {

using test::TempDir;

struct TwoShards {
  TempDir dir;
  std::string a = dir.file("model-00001-of-00002.safetensors");
  std::string b = dir.file("model-00002-of-00002.safetensors");
  TwoShards() {
    write_safetensors(a, {{"blocks.0.w", test::make_tensor_f32({2, 2}, {1, 2, 3, 4})},
                          {"blocks.0.b", test::make_tensor_f32({2}, {5, 6})}});
    write_safetensors(b, {{"blocks.1.w", test::make_tensor_f32({1, 3}, {7, 8, 9})}});
  }
};

bool has_warning_with(const std::vector<std::string>& warnings, const std::vector<std::string>& parts) {
  return std::any_of(warnings.begin(), warnings.end(), [&](const std::string& w) {
    return std::all_of(parts.begin(), parts.end(), [&](const std::string& p) { return w.find(p) != std::string::npos; });
  });
}

TEST(TensorStore, UnionOfShardsWithViewsIntoEachFile) {
  TwoShards s;
  TensorStore store = TensorStore::open({s.a, s.b});
  EXPECT_EQ(store.names(), (std::vector<std::string>{"blocks.0.b", "blocks.0.w", "blocks.1.w"}));
  const StoredTensor* w1 = store.find("blocks.1.w");
  ASSERT_NE(w1, nullptr);
  EXPECT_EQ(w1->file->path(), s.b);
  Tensor v = store.view(*w1);
  EXPECT_EQ(v.shape(), (Shape{1, 3}));
  EXPECT_EQ(element_as_double(v, 0), 7.0);
  EXPECT_EQ(element_as_double(v, 2), 9.0);
  EXPECT_EQ(element_as_double(store.view(*store.find("blocks.0.w")), 3), 4.0);
  EXPECT_EQ(store.find("blocks.2.w"), nullptr);
  EXPECT_TRUE(store.index_warnings().empty());
  EXPECT_EQ(store.files().size(), 2u);
}

TEST(TensorStore, TensorInTwoShardsNamesBothFiles) {
  TwoShards s;
  std::string c = s.dir.file("extra.safetensors");
  write_safetensors(c, {{"blocks.0.b", test::make_tensor_f32({2}, {0, 0})}});
  test::expect_error([&] { TensorStore::open({s.a, s.b, c}); }, ErrorKind::Checkpoint,
                     {"two safetensors files", "'blocks.0.b'", s.a, c});
}

TEST(TensorStore, NoFilesIsACheckpointError) {
  test::expect_error([] { TensorStore::open({}); }, ErrorKind::Checkpoint, {"no safetensors files"});
}

TEST(TensorStore, TruthfulIndexGivesNoWarnings) {
  TwoShards s;
  std::string index = s.dir.file("model.safetensors.index.json");
  test::write_json(index, {{"metadata", {{"total_size", 16 + 8 + 12}}},
                           {"weight_map",
                            {{"blocks.0.w", "model-00001-of-00002.safetensors"},
                             {"blocks.0.b", "model-00001-of-00002.safetensors"},
                             {"blocks.1.w", "model-00002-of-00002.safetensors"}}}});
  TensorStore store = TensorStore::open_with_index({s.a, s.b}, index);
  EXPECT_TRUE(store.index_warnings().empty()) << store.index_warnings().front();
}

TEST(TensorStore, LyingIndexWarnsAndTheFilesStillDecide) {
  TwoShards s;
  std::string index = s.dir.file("model.safetensors.index.json");
  test::write_json(index, {{"metadata", {{"total_size", 999}}},
                           {"weight_map",
                            {{"blocks.0.w", "model-00002-of-00002.safetensors"},  // wrong shard
                             {"blocks.9.w", "model-00001-of-00002.safetensors"},  // no such tensor
                             {"blocks.1.w", "model-00003-of-00003.safetensors"}}}});  // no such file
  TensorStore store = TensorStore::open_with_index({s.a, s.b}, index);
  const auto w = store.index_warnings();
  EXPECT_TRUE(has_warning_with(w, {index, "'blocks.0.w'", "in model-00002-of-00002.safetensors",
                                   "it is in model-00001-of-00002.safetensors"}));
  EXPECT_TRUE(has_warning_with(w, {"'blocks.9.w'", "no file holds it"}));
  EXPECT_TRUE(has_warning_with(w, {"model-00003-of-00003.safetensors", "not among the checkpoint's files"}));
  EXPECT_TRUE(has_warning_with(w, {"does not list tensor 'blocks.0.b'"}));
  EXPECT_TRUE(has_warning_with(w, {"total_size is 999", "36 bytes"}));
  EXPECT_EQ(w.size(), 6u);  // the five above plus blocks.1.w listed in the wrong (missing) file
  // The files decide: the tensor is found where it really is.
  EXPECT_EQ(store.find("blocks.0.w")->file->path(), s.a);
  EXPECT_EQ(store.find("blocks.9.w"), nullptr);
}

TEST(TensorStore, UnusableIndexIsAWarningNotAnError) {
  TwoShards s;
  std::string broken = s.dir.file("broken.index.json");
  test::write_text(broken, "{not json");
  TensorStore store = TensorStore::open_with_index({s.a, s.b}, broken);
  EXPECT_TRUE(has_warning_with(store.index_warnings(), {broken, "ignored", "invalid JSON"}));
  EXPECT_EQ(store.names().size(), 3u);

  std::string missing = s.dir.path() + "/missing.index.json";
  EXPECT_TRUE(has_warning_with(TensorStore::open_with_index({s.a, s.b}, missing).index_warnings(),
                               {missing, "ignored"}));

  std::string no_map = s.dir.file("nomap.index.json");
  test::write_json(no_map, {{"metadata", {}}});
  EXPECT_TRUE(has_warning_with(TensorStore::open_with_index({s.a, s.b}, no_map).index_warnings(),
                               {"weight_map"}));
}

TEST(TensorStore, MalformedShardIsACheckpointErrorNamingIt) {
  TwoShards s;
  std::string bad = s.dir.file("bad.safetensors");
  test::write_text(bad, test::safetensors_image("{", ""));
  test::expect_error([&] { TensorStore::open({s.a, bad}); }, ErrorKind::Checkpoint, {bad, "not valid JSON"});
}

}  // namespace
}  // namespace qdit
