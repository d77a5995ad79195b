// Every row of wan-dit.md §2.3 (native -> Diffusers) and of qdit's runtime name table, with every
// quantization suffix; the norm2/norm3 swap; namespace detection. Round trips over the complete parameter
// lists of every variant are in schema_test.cpp.
#include <gtest/gtest.h>

#include "qdit/core/error.h"
#include "qdit/models/wan/rules.h"

namespace qdit::wan {
namespace {

const char* const kSuffixes[] = {"weight",       "bias",         "weight_scale", "weight_offset", "input_scale",
                                 "input_offset", "quant_bias",   "deq_scale",    "scale_bias"};

struct Row {
  const char* from;
  const char* to;
};

// wan-dit.md §2.3, one concrete layer per table row (the N of blocks.N varies to exercise \d+).
const Row kNativeToDiffusers[] = {
    {"time_embedding.0", "condition_embedder.time_embedder.linear_1"},
    {"time_embedding.2", "condition_embedder.time_embedder.linear_2"},
    {"time_projection.1", "condition_embedder.time_proj"},
    {"text_embedding.0", "condition_embedder.text_embedder.linear_1"},
    {"text_embedding.2", "condition_embedder.text_embedder.linear_2"},
    {"head.head", "proj_out"},
    {"blocks.0.self_attn.q", "blocks.0.attn1.to_q"},
    {"blocks.1.self_attn.k", "blocks.1.attn1.to_k"},
    {"blocks.22.self_attn.v", "blocks.22.attn1.to_v"},
    {"blocks.39.self_attn.o", "blocks.39.attn1.to_out.0"},
    {"blocks.3.self_attn.norm_q", "blocks.3.attn1.norm_q"},
    {"blocks.3.self_attn.norm_k", "blocks.3.attn1.norm_k"},
    {"blocks.4.cross_attn.q", "blocks.4.attn2.to_q"},
    {"blocks.4.cross_attn.k", "blocks.4.attn2.to_k"},
    {"blocks.4.cross_attn.v", "blocks.4.attn2.to_v"},
    {"blocks.4.cross_attn.o", "blocks.4.attn2.to_out.0"},
    {"blocks.4.cross_attn.norm_q", "blocks.4.attn2.norm_q"},
    {"blocks.4.cross_attn.norm_k", "blocks.4.attn2.norm_k"},
    {"blocks.10.cross_attn.k_img", "blocks.10.attn2.add_k_proj"},
    {"blocks.10.cross_attn.v_img", "blocks.10.attn2.add_v_proj"},
    {"blocks.10.cross_attn.norm_k_img", "blocks.10.attn2.norm_added_k"},
    {"blocks.5.ffn.0", "blocks.5.ffn.net.0.proj"},
    {"blocks.5.ffn.2", "blocks.5.ffn.net.2"},
    {"blocks.6.norm3", "blocks.6.norm2"},
    {"blocks.6.norm2", "blocks.6.norm3"},
    {"img_emb.proj.0", "condition_embedder.image_embedder.norm1"},
    {"img_emb.proj.1", "condition_embedder.image_embedder.ff.net.0.proj"},
    {"img_emb.proj.3", "condition_embedder.image_embedder.ff.net.2"},
    {"img_emb.proj.4", "condition_embedder.image_embedder.norm2"},
    {"patch_embedding", "patch_embedding"},
};

// The bare parameters (no suffix).
const Row kNativeToDiffusersBare[] = {
    {"head.modulation", "scale_shift_table"},
    {"blocks.0.modulation", "blocks.0.scale_shift_table"},
    {"blocks.29.modulation", "blocks.29.scale_shift_table"},
    {"img_emb.emb_pos", "condition_embedder.image_embedder.pos_embed"},
};

TEST(WanRules, NativeToDiffusersEveryRowEverySuffix) {
  for (const Row& r : kNativeToDiffusers) {
    for (const char* s : kSuffixes) {
      const std::string from = std::string(r.from) + "." + s, to = std::string(r.to) + "." + s;
      MappedName m = wan_native_to_diffusers().map(from);
      EXPECT_EQ(m.name, to) << from;
      EXPECT_EQ(m.merge_index, -1) << from;
      EXPECT_EQ(wan_diffusers_to_native().map(to).name, from) << to;
    }
  }
  for (const Row& r : kNativeToDiffusersBare) {
    EXPECT_EQ(wan_native_to_diffusers().map(r.from).name, r.to);
    EXPECT_EQ(wan_diffusers_to_native().map(r.to).name, r.from);
  }
}

TEST(WanRules, NormSwapIsTheOnlyTrapAndBothDirectionsHandleIt) {
  // The affine cross-attention LayerNorm: native norm3, Diffusers norm2, runtime cross_norm.
  EXPECT_EQ(wan_native_to_diffusers().map("blocks.7.norm3.weight").name, "blocks.7.norm2.weight");
  EXPECT_EQ(wan_native_to_diffusers().map("blocks.7.norm3.bias").name, "blocks.7.norm2.bias");
  EXPECT_EQ(wan_diffusers_to_runtime().map("blocks.7.norm2.weight").name, "blocks.7.cross_norm.weight");
  EXPECT_EQ(wan_diffusers_to_native().map("blocks.7.norm2.bias").name, "blocks.7.norm3.bias");
  // No marker used inside the swap may leak into a result.
  for (const char* n : {"blocks.7.norm3.weight", "blocks.7.norm2.weight"}) {
    for (const NameMap* m : {&wan_native_to_diffusers(), &wan_diffusers_to_native()}) {
      const std::string out = m->map(n).name;
      EXPECT_EQ(out.find_first_of("#%"), std::string::npos) << n << " -> " << out;
    }
  }
}

struct RuntimeRow {
  const char* diffusers;
  const char* runtime;
  int merge_index;
  int num_merged;
};

const RuntimeRow kDiffusersToRuntime[] = {
    {"patch_embedding", "patch_embed", -1, 0},
    {"condition_embedder.time_embedder.linear_1", "time.fc1", -1, 0},
    {"condition_embedder.time_embedder.linear_2", "time.fc2", -1, 0},
    {"condition_embedder.time_proj", "time.proj", -1, 0},
    {"condition_embedder.text_embedder.linear_1", "text.fc1", -1, 0},
    {"condition_embedder.text_embedder.linear_2", "text.fc2", -1, 0},
    {"condition_embedder.image_embedder.norm1", "image.norm_in", -1, 0},
    {"condition_embedder.image_embedder.ff.net.0.proj", "image.fc1", -1, 0},
    {"condition_embedder.image_embedder.ff.net.2", "image.fc2", -1, 0},
    {"condition_embedder.image_embedder.norm2", "image.norm_out", -1, 0},
    {"proj_out", "head.proj", -1, 0},
    {"blocks.2.attn1.to_q", "blocks.2.self_attn.qkv", 0, 3},
    {"blocks.2.attn1.to_k", "blocks.2.self_attn.qkv", 1, 3},
    {"blocks.2.attn1.to_v", "blocks.2.self_attn.qkv", 2, 3},
    {"blocks.2.attn1.to_out.0", "blocks.2.self_attn.out", -1, 0},
    {"blocks.2.attn1.norm_q", "blocks.2.self_attn.norm_q", -1, 0},
    {"blocks.2.attn1.norm_k", "blocks.2.self_attn.norm_k", -1, 0},
    {"blocks.31.norm2", "blocks.31.cross_norm", -1, 0},
    {"blocks.31.attn2.to_q", "blocks.31.cross_attn.q", -1, 0},
    {"blocks.31.attn2.to_k", "blocks.31.cross_attn.kv", 0, 2},
    {"blocks.31.attn2.to_v", "blocks.31.cross_attn.kv", 1, 2},
    {"blocks.31.attn2.to_out.0", "blocks.31.cross_attn.out", -1, 0},
    {"blocks.31.attn2.norm_q", "blocks.31.cross_attn.norm_q", -1, 0},
    {"blocks.31.attn2.norm_k", "blocks.31.cross_attn.norm_k", -1, 0},
    {"blocks.8.attn2.add_k_proj", "blocks.8.cross_attn.kv_img", 0, 2},
    {"blocks.8.attn2.add_v_proj", "blocks.8.cross_attn.kv_img", 1, 2},
    {"blocks.8.attn2.norm_added_k", "blocks.8.cross_attn.norm_k_img", -1, 0},
    {"blocks.9.ffn.net.0.proj", "blocks.9.ffn.up", -1, 0},
    {"blocks.9.ffn.net.2", "blocks.9.ffn.down", -1, 0},
};

TEST(WanRules, DiffusersToRuntimeEveryRowEverySuffixWithMerges) {
  for (const RuntimeRow& r : kDiffusersToRuntime) {
    for (const char* s : kSuffixes) {
      const std::string from = std::string(r.diffusers) + "." + s, to = std::string(r.runtime) + "." + s;
      MappedName m = wan_diffusers_to_runtime().map(from);
      EXPECT_EQ(m.name, to) << from;
      EXPECT_EQ(m.merge_index, r.merge_index) << from;
      EXPECT_EQ(m.num_merged, r.num_merged) << from;
      MappedName back = unmerge(wan_runtime_to_diffusers(), to, r.merge_index);
      EXPECT_EQ(back.name, from) << to << " slice " << r.merge_index;
      EXPECT_FALSE(back.dropped);
    }
  }
  EXPECT_EQ(wan_diffusers_to_runtime().map("scale_shift_table").name, "head.modulation");
  EXPECT_EQ(wan_diffusers_to_runtime().map("blocks.3.scale_shift_table").name, "blocks.3.modulation");
  EXPECT_EQ(wan_runtime_to_diffusers().map("head.modulation").name, "scale_shift_table");
  EXPECT_EQ(wan_runtime_to_diffusers().map("blocks.3.modulation").name, "blocks.3.scale_shift_table");
}

TEST(WanRules, NormAddedQIsDroppedOnTheWayToTheRuntime) {
  EXPECT_TRUE(wan_diffusers_to_runtime().map("blocks.0.attn2.norm_added_q.weight").dropped);
}

TEST(WanRules, FusedNameWithoutItsSliceIsNoCanonicalName) {
  // The reverse of a fused layer needs the slice: without it, or with a slice that does not exist, the result
  // must not pass for a canonical name.
  EXPECT_EQ(unmerge(wan_runtime_to_diffusers(), "blocks.0.self_attn.qkv.weight", -1).name,
            "blocks.0.self_attn.qkv.weight");
  EXPECT_TRUE(unmerge(wan_runtime_to_diffusers(), "blocks.0.self_attn.qkv.weight", 3).dropped);
  EXPECT_TRUE(unmerge(wan_runtime_to_diffusers(), "blocks.0.self_attn.out.weight", 0).dropped);
}

TEST(WanRules, EveryRuleKeepsTheSuffix) {
  // Each pattern ends in a capture of the rest of the name, so no quantization suffix is ever cut off.
  for (const auto* list : {&native_to_diffusers_rules(), &diffusers_to_native_rules(),
                           &diffusers_to_runtime_rules(), &runtime_to_diffusers_rules()}) {
    for (const NameRule& r : *list) {
      const bool ends_with_rest = r.pattern.ends_with("(.*)$") || r.pattern.ends_with("(.*)@0$") ||
                                  r.pattern.ends_with("(.*)@1$") || r.pattern.ends_with("(.*)@2$");
      EXPECT_TRUE(ends_with_rest) << r.pattern;
      EXPECT_TRUE(r.pattern.starts_with("^")) << r.pattern;
    }
  }
}

TEST(WanNamespaceDetection, NativeNames) {
  EXPECT_EQ(detect_wan_namespace({"patch_embedding.weight", "blocks.0.self_attn.q.weight"}, "f"),
            WanNamespace::Native);
  EXPECT_EQ(detect_wan_namespace({"head.head.weight"}, "f"), WanNamespace::Native);
  EXPECT_EQ(detect_wan_namespace({"model_quant_type", "blocks.3.ffn.2.weight"}, "f"), WanNamespace::Native);
  EXPECT_EQ(detect_wan_namespace({"blocks.3.modulation"}, "f"), WanNamespace::Native);
}

TEST(WanNamespaceDetection, DiffusersNames) {
  EXPECT_EQ(detect_wan_namespace({"patch_embedding.weight", "blocks.0.attn1.to_q.weight"}, "f"),
            WanNamespace::Diffusers);
  EXPECT_EQ(detect_wan_namespace({"proj_out.weight"}, "f"), WanNamespace::Diffusers);
  EXPECT_EQ(detect_wan_namespace({"blocks.3.ffn.net.2.weight"}, "f"), WanNamespace::Diffusers);
  EXPECT_EQ(detect_wan_namespace({"scale_shift_table"}, "f"), WanNamespace::Diffusers);
}

TEST(WanNamespaceDetection, MixedNamesAreACheckpointErrorNamingBoth) {
  try {
    detect_wan_namespace({"blocks.0.norm2.weight", "blocks.0.attn1.to_q.weight", "blocks.0.self_attn.k.weight"},
                         "/ckpt/model.safetensors");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Checkpoint);
    const std::string what = e.what();
    EXPECT_NE(what.find("/ckpt/model.safetensors"), std::string::npos) << what;
    EXPECT_NE(what.find("blocks.0.attn1.to_q.weight"), std::string::npos) << what;
    EXPECT_NE(what.find("blocks.0.self_attn.k.weight"), std::string::npos) << what;
  }
}

TEST(WanNamespaceDetection, NamesSharedByBothDecideNothing) {
  // norm2/norm3 mean different layers in the two namespaces; patch_embedding is spelled alike.
  try {
    detect_wan_namespace({"patch_embedding.weight", "blocks.0.norm2.weight", "blocks.0.norm3.bias"}, "/x.st");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Checkpoint);
    EXPECT_NE(std::string(e.what()).find("/x.st"), std::string::npos);
  }
  EXPECT_THROW(detect_wan_namespace({}, "/x.st"), Error);
}

TEST(WanRules, ToCanonicalUsesTheNamespace) {
  EXPECT_EQ(to_canonical(WanNamespace::Native, "blocks.1.ffn.0.weight").name, "blocks.1.ffn.net.0.proj.weight");
  EXPECT_EQ(to_canonical(WanNamespace::Diffusers, "blocks.1.norm2.weight").name, "blocks.1.norm2.weight");
  EXPECT_EQ(to_canonical(WanNamespace::Native, "blocks.1.norm2.weight").name, "blocks.1.norm3.weight");
}

}  // namespace
}  // namespace qdit::wan

#include "names/plain_engine.h"

namespace qdit::wan {
namespace {

TEST(WanRules, FastEngineAgreesWithThePlainOneOnEveryListAndName) {
  // Names from every namespace, including ones no rule expects, run through every list.
  std::vector<std::string> names = {"blocks.0.norm2.weight", "blocks.0.norm3.weight", "junk", "", "blocks.x.q",
                                    "blocks.1.attn2.norm_added_q.weight", "blocks.0.self_attn.qkv.weight@1",
                                    "blocks.0.self_attn.qkv.weight@7", "head.modulation", "scale_shift_table"};
  for (const Row& r : kNativeToDiffusers) {
    for (const char* s : kSuffixes) {
      names.push_back(std::string(r.from) + "." + s);
      names.push_back(std::string(r.to) + "." + s);
    }
  }
  for (const RuntimeRow& r : kDiffusersToRuntime) {
    for (const char* s : kSuffixes) {
      names.push_back(std::string(r.runtime) + "." + s);
      names.push_back(shard_tagged(std::string(r.runtime) + "." + s, r.merge_index));
    }
  }
  const std::pair<const std::vector<NameRule>*, const NameMap*> lists[] = {
      {&native_to_diffusers_rules(), &wan_native_to_diffusers()},
      {&diffusers_to_native_rules(), &wan_diffusers_to_native()},
      {&diffusers_to_runtime_rules(), &wan_diffusers_to_runtime()},
      {&runtime_to_diffusers_rules(), &wan_runtime_to_diffusers()}};
  for (const auto& [rules, map] : lists) {
    qdit::testing::PlainEngine plain(*rules);
    for (const std::string& n : names) {
      const MappedName want = plain.map(n), got = map->map(n);
      EXPECT_EQ(got.name, want.name) << n;
      EXPECT_EQ(got.dropped, want.dropped) << n;
      EXPECT_EQ(got.merge_index, want.merge_index) << n;
      EXPECT_EQ(got.num_merged, want.num_merged) << n;
    }
  }
}

}  // namespace
}  // namespace qdit::wan
