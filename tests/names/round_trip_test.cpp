#include <gtest/gtest.h>

#include "qdit/names/name_map.h"

namespace qdit {
namespace {

// A small fused-QKV pair in the style of the Wan runtime rules.
NameMap fuse_forward() {
  return NameMap({{R"(^b\.(\d+)\.q\.(.*)$)", R"(b.\1.qkv.\2)", 0, 3},
                  {R"(^b\.(\d+)\.k\.(.*)$)", R"(b.\1.qkv.\2)", 1, 3},
                  {R"(^b\.(\d+)\.v\.(.*)$)", R"(b.\1.qkv.\2)", 2, 3},
                  {R"(^b\.(\d+)\.o\.(.*)$)", R"(b.\1.out.\2)"},
                  {R"(^b\.(\d+)\.junk\.(.*)$)", ""}});
}
NameMap fuse_reverse() {
  return NameMap({{R"(^b\.(\d+)\.qkv\.(.*)@0$)", R"(b.\1.q.\2)"},
                  {R"(^b\.(\d+)\.qkv\.(.*)@1$)", R"(b.\1.k.\2)"},
                  {R"(^b\.(\d+)\.qkv\.(.*)@2$)", R"(b.\1.v.\2)"},
                  {R"(^b\.(\d+)\.out\.(.*)$)", R"(b.\1.o.\2)"}});
}

TEST(ShardTag, AppendsTheSliceOnlyForMergedNames) {
  EXPECT_EQ(shard_tagged("b.0.qkv.weight", 2), "b.0.qkv.weight@2");
  EXPECT_EQ(shard_tagged("b.0.out.weight", -1), "b.0.out.weight");
}

TEST(Unmerge, RecoversEachShardOfAFusedName) {
  NameMap rev = fuse_reverse();
  EXPECT_EQ(unmerge(rev, "b.3.qkv.weight_scale", 0).name, "b.3.q.weight_scale");
  EXPECT_EQ(unmerge(rev, "b.3.qkv.weight_scale", 1).name, "b.3.k.weight_scale");
  EXPECT_EQ(unmerge(rev, "b.3.qkv.weight_scale", 2).name, "b.3.v.weight_scale");
  EXPECT_EQ(unmerge(rev, "b.3.out.bias", -1).name, "b.3.o.bias");
  EXPECT_FALSE(unmerge(rev, "b.3.out.bias", -1).dropped);
}

TEST(Unmerge, UnclaimedSliceIsNotATensorName) {
  MappedName m = unmerge(fuse_reverse(), "b.3.qkv.weight", 5);
  EXPECT_TRUE(m.dropped);
  EXPECT_EQ(m.name, "b.3.qkv.weight@5");
}

TEST(RoundTrip, ConsistentPairHasNoFailures) {
  std::vector<std::string> names = {"b.0.q.weight", "b.0.k.weight", "b.0.v.bias", "b.11.o.deq_scale",
                                    "untouched.weight"};
  EXPECT_TRUE(round_trip_failures(fuse_forward(), fuse_reverse(), names).empty());
}

TEST(RoundTrip, ReportsExactlyTheNamesThatDoNotComeBack) {
  // Reverse with k and v swapped: only the k and v names fail.
  NameMap bad({{R"(^b\.(\d+)\.qkv\.(.*)@0$)", R"(b.\1.q.\2)"},
               {R"(^b\.(\d+)\.qkv\.(.*)@1$)", R"(b.\1.v.\2)"},
               {R"(^b\.(\d+)\.qkv\.(.*)@2$)", R"(b.\1.k.\2)"},
               {R"(^b\.(\d+)\.out\.(.*)$)", R"(b.\1.o.\2)"}});
  std::vector<std::string> names = {"b.0.q.weight", "b.0.k.weight", "b.0.v.weight", "b.0.o.weight"};
  EXPECT_EQ(round_trip_failures(fuse_forward(), bad, names),
            (std::vector<std::string>{"b.0.k.weight", "b.0.v.weight"}));
}

TEST(RoundTrip, MissingReverseRuleFails) {
  NameMap no_out({{R"(^b\.(\d+)\.qkv\.(.*)@0$)", R"(b.\1.q.\2)"}});
  EXPECT_EQ(round_trip_failures(fuse_forward(), no_out, {"b.1.o.weight", "b.1.q.weight", "b.1.k.weight"}),
            (std::vector<std::string>{"b.1.o.weight", "b.1.k.weight"}));
}

TEST(RoundTrip, DroppedNameFails) {
  EXPECT_EQ(round_trip_failures(fuse_forward(), fuse_reverse(), {"b.0.junk.weight"}),
            (std::vector<std::string>{"b.0.junk.weight"}));
}

}  // namespace
}  // namespace qdit
