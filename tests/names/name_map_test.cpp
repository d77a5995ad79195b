// The engine semantics of loading.md §2, one property per test. Each test is built so that the plausible
// wrong implementation (no restart, fire-on-match, no cycle guard, a flat round limit, anchoring at both ends,
// first-match-only substitution, first triple wins) gives a different answer.
#include <gtest/gtest.h>

#include "qdit/core/error.h"
#include "qdit/names/name_map.h"

namespace qdit {
namespace {

TEST(NameMap, DefaultIsIdentity) {
  NameMap identity;
  MappedName m = identity.map("blocks.0.attn1.to_q.weight");
  EXPECT_EQ(m.name, "blocks.0.attn1.to_q.weight");
  EXPECT_FALSE(m.dropped);
  EXPECT_EQ(m.merge_index, -1);
  EXPECT_EQ(m.num_merged, 0);
}

TEST(NameMap, NoMatchLeavesNameUnchanged) {
  NameMap map({{R"(^head\.head\.(.*)$)", R"(proj_out.\1)"}});
  EXPECT_EQ(map.map("proj_out.weight").name, "proj_out.weight");
  EXPECT_FALSE(map.map("proj_out.weight").dropped);
}

TEST(NameMap, FirstRuleInListOrderWins) {
  // Both rules match "a.x"; once the first has renamed it, the second no longer matches.
  NameMap b_first({{R"(^a\.(.*)$)", R"(b.\1)"}, {R"(^a\.(.*)$)", R"(c.\1)"}});
  NameMap c_first({{R"(^a\.(.*)$)", R"(c.\1)"}, {R"(^a\.(.*)$)", R"(b.\1)"}});
  EXPECT_EQ(b_first.map("a.x").name, "b.x");
  EXPECT_EQ(c_first.map("a.x").name, "c.x");
}

TEST(NameMap, EachRuleFiresAtMostOnce) {
  // This rule matches its own output forever; fire-once stops it after one application.
  NameMap map({{R"(^x(.*)$)", R"(xx\1)"}});
  EXPECT_EQ(map.map("x.w").name, "xx.w");
}

TEST(NameMap, ScanRestartsFromTheFirstRuleAfterAChange) {
  // Rule 1 only matches rule 2's output. With a restart, rule 1 gets its turn; a scan that merely continued
  // after rule 2 would stop at "b.x".
  NameMap map({{R"(^b\.(.*)$)", R"(c.\1)"}, {R"(^a\.(.*)$)", R"(b.\1)"}});
  EXPECT_EQ(map.map("a.x").name, "c.x");
}

TEST(NameMap, AMatchThatChangesNothingDoesNotFire) {
  // Rule 1 strips one 'v' after "k."; on "k.abc" it matches but changes nothing, so it must stay unfired and
  // apply after rule 2 prepends "vv": k.abc -> k.vvabc -> k.vabc. Treating the no-op match as a firing
  // would leave "k.vvabc".
  NameMap map({{R"(^k\.(v?)(.*)$)", R"(k.\2)"}, {R"(^k\.(.*)$)", R"(k.vv\1)"}});
  EXPECT_EQ(map.map("k.abc").name, "k.vabc");
}

TEST(NameMap, CycleGuardStopsAtTheFirstRepeatedName) {
  // a -> b -> a repeats the start, so the scan stops there. Without the guard the unfired rule 3 would
  // then turn "a.x" into "c.x".
  NameMap map({{R"(^a\.(.*)$)", R"(b.\1)"}, {R"(^b\.(.*)$)", R"(a.\1)"}, {R"(^a\.(.*)$)", R"(c.\1)"}});
  EXPECT_EQ(map.map("a.x").name, "a.x");
  EXPECT_EQ(map.map("b.x").name, "b.x");  // b -> a -> b: repeats too (rule 3 never gets to "a.x" first)
}

TEST(NameMap, NaiveTwoRuleSwapUndoesItself) {
  // Why the Wan norm2/norm3 swap needs more than two rules: each rule undoes the other.
  NameMap naive({{R"(^blocks\.(\d+)\.norm3\.(.*)$)", R"(blocks.\1.norm2.\2)"},
                 {R"(^blocks\.(\d+)\.norm2\.(.*)$)", R"(blocks.\1.norm3.\2)"}});
  EXPECT_EQ(naive.map("blocks.4.norm3.weight").name, "blocks.4.norm3.weight");
  EXPECT_EQ(naive.map("blocks.4.norm2.bias").name, "blocks.4.norm2.bias");
}

TEST(NameMap, RoundLimitIsMaxOf8AndTwiceTheRuleCount) {
  EXPECT_EQ(NameMap::round_limit(0), 8u);
  EXPECT_EQ(NameMap::round_limit(4), 8u);
  EXPECT_EQ(NameMap::round_limit(5), 10u);
  EXPECT_EQ(NameMap::round_limit(19), 38u);
}

TEST(NameMap, ChainLongerThanEightRoundsRunsToTheEnd) {
  // 12 rules, each renaming s<i> to s<i+1>: the chain needs 12 rounds, more than a flat limit of 8 allows.
  std::vector<NameRule> rules;
  for (int i = 11; i >= 0; --i) {
    rules.push_back({"^s" + std::to_string(i) + R"(\.(.*)$)", "s" + std::to_string(i + 1) + R"(.\1)"});
  }
  NameMap map(rules);
  EXPECT_EQ(map.map("s0.weight").name, "s12.weight");
  EXPECT_EQ(map.map("s7.weight").name, "s12.weight");
}

TEST(NameMap, EmptyResultDropsTheTensor) {
  NameMap map({{R"(^blocks\.(\d+)\.attn2\.norm_added_q\.(.*)$)", ""}});
  MappedName m = map.map("blocks.7.attn2.norm_added_q.weight");
  EXPECT_TRUE(m.dropped);
  EXPECT_EQ(m.name, "");
  EXPECT_FALSE(map.map("blocks.7.attn2.norm_added_k.weight").dropped);
}

TEST(NameMap, BackReferencesInReplacement) {
  NameMap map({{R"(^blocks\.(\d+)\.self_attn\.(q|k|v)\.(.*)$)", R"(blocks.\1.attn1.to_\2.\3)"}});
  EXPECT_EQ(map.map("blocks.12.self_attn.k.weight_scale").name, "blocks.12.attn1.to_k.weight_scale");
  EXPECT_EQ(map.map("blocks.0.self_attn.v.deq_scale").name, "blocks.0.attn1.to_v.deq_scale");
}

TEST(NameMap, SubstitutionReplacesEveryMatchButMatchingIsJudgedAtTheStart) {
  NameMap map({{R"(a)", "b"}});
  EXPECT_EQ(map.map("a.a.xa").name, "b.b.xb");  // every non-overlapping match is replaced
  EXPECT_EQ(map.map("x.a").name, "x.a");        // no match at the start: the rule does not apply at all
}

TEST(NameMap, PatternNeedNotMatchTheWholeName) {
  // Matching is anchored at the start only (re.match), not at the end.
  NameMap map({{R"(^blocks\.(\d+)\.ffn\.0)", R"(blocks.\1.ffn.net.0.proj)"}});
  EXPECT_EQ(map.map("blocks.3.ffn.0.weight").name, "blocks.3.ffn.net.0.proj.weight");
}

TEST(NameMap, LastFiredTripleWinsAndPlainRulesKeepIt) {
  NameMap map({{R"(^a\.(.*)$)", R"(b.\1)", 0, 2},
               {R"(^b\.(.*)$)", R"(c.\1)", 2, 3},
               {R"(^c\.(.*)$)", R"(d.\1)"}});
  MappedName m = map.map("a.w");
  EXPECT_EQ(m.name, "d.w");
  EXPECT_EQ(m.merge_index, 2);
  EXPECT_EQ(m.num_merged, 3);
  MappedName only_first = map.map("z.w");
  EXPECT_EQ(only_first.merge_index, -1);
  MappedName from_b = NameMap({{R"(^b\.(.*)$)", R"(c.\1)", 1, 2}}).map("b.w");
  EXPECT_EQ(from_b.merge_index, 1);
  EXPECT_EQ(from_b.num_merged, 2);
}

TEST(NameMap, TripleThatDoesNotFireLeavesNoMergeIndex) {
  NameMap map({{R"(^blocks\.(\d+)\.attn1\.to_q\.(.*)$)", R"(blocks.\1.self_attn.qkv.\2)", 0, 3}});
  MappedName m = map.map("blocks.0.attn1.to_out.0.weight");
  EXPECT_EQ(m.merge_index, -1);
  EXPECT_EQ(m.num_merged, 0);
}

TEST(NameMap, InvalidRulesAreInternalErrors) {
  auto kind_of = [](std::vector<NameRule> rules) {
    try {
      NameMap m(std::move(rules));
    } catch (const Error& e) {
      return e.kind();
    }
    return ErrorKind::Checkpoint;  // "no error" sentinel: never the expected kind below
  };
  EXPECT_EQ(kind_of({{"^blocks\\.(\\d+", "x"}}), ErrorKind::Internal);    // unbalanced parenthesis
  EXPECT_EQ(kind_of({{"^a\\.(.*)$", "b.\\2"}}), ErrorKind::Internal);     // group 2 does not exist
  EXPECT_EQ(kind_of({{"^a$", "b", 3, 3}}), ErrorKind::Internal);          // slice 3 of 3
  EXPECT_EQ(kind_of({{"^a$", "b", 0, 0}}), ErrorKind::Internal);          // index without a count
  EXPECT_EQ(kind_of({{"^a$", "b", -1, 2}}), ErrorKind::Internal);         // count without an index
  try {
    NameMap m({{"^ok$", "x"}, {"(", "y"}});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rule #1"), std::string::npos) << e.what();
  }
}

TEST(NameMap, CopiesMapLikeTheOriginal) {
  NameMap original({{R"(^head\.head\.(.*)$)", R"(proj_out.\1)"}});
  NameMap copy = original;
  NameMap moved = std::move(original);
  EXPECT_EQ(copy.map("head.head.bias").name, "proj_out.bias");
  EXPECT_EQ(moved.map("head.head.bias").name, "proj_out.bias");
  EXPECT_EQ(copy.rules().size(), 1u);
}

}  // namespace
}  // namespace qdit

#include "names/plain_engine.h"

namespace qdit {
namespace {

TEST(NameMap, AgreesWithThePlainEngineOnTrickyRuleSets) {
  const std::vector<std::vector<NameRule>> sets = {
      {{R"(^a\.(.*)$)", R"(b.\1)"}, {R"(^b\.(.*)$)", R"(a.\1)"}, {R"(^a\.(.*)$)", R"(c.\1)"}},
      {{R"(^k\.(v?)(.*)$)", R"(k.\2)"}, {R"(^k\.(.*)$)", R"(k.vv\1)"}},
      {{R"(a)", "b"}, {R"(^b(.*)$)", R"(\1)"}, {R"(^x(.*)$)", R"(xx\1)"}},
      {{R"(^a\.(.*)$)", R"(b.\1)", 0, 2}, {R"(^b\.(.*)$)", R"(c.\1)", 1, 2}, {R"(^c\.(.*)$)", ""}},
      {{R"(^(.*)$)", R"(p.\1)"}, {R"(^p\.p\.(.*)$)", R"(\1)"}, {R"(^$)", "empty"}},
  };
  const std::vector<std::string> names = {"a.x", "b.x", "c.x", "k.abc", "k.vvx", "a.a.xa", "x.a", "xyz", "",
                                          "p.p.q", "b", "a"};
  for (const auto& rules : sets) {
    NameMap fast(rules);
    testing::PlainEngine plain(rules);
    for (const std::string& n : names) {
      const MappedName want = plain.map(n), got = fast.map(n);
      EXPECT_EQ(got.name, want.name) << "'" << n << "' with " << rules.size() << " rules";
      EXPECT_EQ(got.dropped, want.dropped) << n;
      EXPECT_EQ(got.merge_index, want.merge_index) << n;
      EXPECT_EQ(got.num_merged, want.num_merged) << n;
    }
  }
}

}  // namespace
}  // namespace qdit
