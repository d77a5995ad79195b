// The load plan on tiny checkpoints written in the real formats: namespaces, scheme resolution, accounting.
#include "qdit/load/plan.h"

#include <gtest/gtest.h>

#include <set>

#include "load/plan_helpers.h"

namespace qdit::test {
namespace {

using load::Severity;

// Runtime layers of one block and the canonical shards each fuses, written by hand from weights.h.
const std::vector<std::pair<std::string, std::vector<std::string>>> kBlockRuntime = {
    {"self_attn.qkv", {"attn1.to_q", "attn1.to_k", "attn1.to_v"}},
    {"self_attn.out", {"attn1.to_out.0"}},
    {"cross_attn.q", {"attn2.to_q"}},
    {"cross_attn.kv", {"attn2.to_k", "attn2.to_v"}},
    {"cross_attn.out", {"attn2.to_out.0"}},
    {"ffn.up", {"ffn.net.0.proj"}},
    {"ffn.down", {"ffn.net.2"}},
};

// The runtime layer that holds a canonical block layer ("blocks.1.attn1.to_k" -> its plan).
const load::LinearPlan* holder(const load::ComponentPlan& p, const std::string& canonical) {
  for (const auto& l : p.linears)
    for (const auto& s : l.shards)
      if (s.canonical == canonical) return &l;
  return nullptr;
}

TEST(Plan, FloatCheckpointWithoutDescriptionIsAllFloat) {
  TempDir dir;
  TinyCheckpoint c;
  c.with_description = false;
  c.build_float();
  load::ComponentPlan p = plan_dir(c.write(dir.path()));
  ASSERT_TRUE(p.ok()) << all_problems(p);
  EXPECT_EQ(p.problems.size(), 0u) << all_problems(p);
  EXPECT_EQ(p.checkpoint_namespace, "diffusers");
  // 7 top-level linears (patch embedding, 2 time, time_proj, 2 text, proj_out) + 7 runtime layers per block.
  EXPECT_EQ(p.linears.size(), 7u + 7u * 2u);
  for (const auto& l : p.linears) {
    ASSERT_TRUE(l.scheme.has_value()) << l.runtime;
    EXPECT_EQ(*l.scheme, SchemeId::Float) << l.runtime;
  }
  EXPECT_EQ(p.tensor_count, c.tensors.size());
  // Norms and modulation tables: 1 head table + per block 1 table + 6 norm tensors.
  EXPECT_EQ(p.params.size(), 1u + 2u * 7u);
  for (const auto& pp : p.params) EXPECT_TRUE(pp.tensor.has_value()) << pp.canonical;
}

TEST(Plan, FusedRuntimeLayersHaveTheirShardsInOrder) {
  TempDir dir;
  TinyCheckpoint c;
  c.build_float();
  c.quantize_blocks("W8A8_DYNAMIC");
  load::ComponentPlan p = plan_dir(c.write(dir.path()));
  ASSERT_TRUE(p.ok()) << all_problems(p);
  for (int b = 0; b < 2; ++b) {
    const std::string pre = "blocks." + std::to_string(b) + ".";
    for (const auto& [rt, shards] : kBlockRuntime) {
      const load::LinearPlan* l = layer(p, pre + rt);
      ASSERT_NE(l, nullptr) << pre + rt;
      ASSERT_EQ(l->shards.size(), shards.size()) << rt;
      int64_t n = 0;
      for (size_t i = 0; i < shards.size(); ++i) {
        EXPECT_EQ(l->shards[i].canonical, pre + shards[i]);
        EXPECT_EQ(l->shards[i].checkpoint, pre + shards[i]);  // Diffusers file: same names
        EXPECT_EQ(l->shards[i].type_string, "W8A8_DYNAMIC");
        n += c.nk(pre + shards[i]).first;
        EXPECT_EQ(l->in_features, c.nk(pre + shards[i]).second);
      }
      EXPECT_EQ(l->out_features, n);
      EXPECT_EQ(l->scheme, SchemeId::W8A8Dynamic);
    }
  }
  // proj_out and the embedders stay float (description says FLOAT).
  const load::LinearPlan* head = holder(p, "proj_out");
  ASSERT_NE(head, nullptr);
  EXPECT_EQ(head->scheme, SchemeId::Float);
  // Every canonical layer name the plan reports exists in the checkpoint (the I2V lost-prefix bug).
  for (const auto& l : p.linears)
    for (const auto& s : l.shards) EXPECT_TRUE(c.tensors.count(s.canonical + ".weight")) << s.canonical;
}

// The same checkpoint in native names (raw msModelSlim output: native tensors, native description, native
// config) must give the same plan as in Diffusers names.
TEST(Plan, NativeRawOutputPlansLikeDiffusers) {
  TinyCheckpoint c;
  c.build_float();
  c.quantize_blocks("W8A8");
  TempDir a, b;
  load::ComponentPlan pd = plan_dir(c.write(a.path()));
  TinyCheckpoint n = c;
  n.native_names = n.native_description = n.native_config = true;
  load::ComponentPlan pn = plan_dir(n.write(b.path()));
  ASSERT_TRUE(pd.ok()) << all_problems(pd);
  ASSERT_TRUE(pn.ok()) << all_problems(pn);
  EXPECT_EQ(pn.checkpoint_namespace, "native");
  EXPECT_EQ(pn.description_namespace, "native");
  EXPECT_EQ(pn.files.layout, LayoutKind::MsModelSlimRaw);
  ASSERT_EQ(pd.linears.size(), pn.linears.size());
  for (size_t i = 0; i < pd.linears.size(); ++i) {
    EXPECT_EQ(pd.linears[i].runtime, pn.linears[i].runtime);
    EXPECT_EQ(pd.linears[i].scheme, pn.linears[i].scheme) << pd.linears[i].runtime;
    EXPECT_EQ(pd.linears[i].canonical_names(), pn.linears[i].canonical_names());
    EXPECT_EQ(pd.linears[i].bias_folded, pn.linears[i].bias_folded);
  }
  const load::LinearPlan* qkv = layer(pn, "blocks.1.self_attn.qkv");
  ASSERT_NE(qkv, nullptr);
  EXPECT_EQ(qkv->checkpoint_names(), "blocks.1.self_attn.q|blocks.1.self_attn.k|blocks.1.self_attn.v");
  EXPECT_EQ(qkv->canonical_names(), "blocks.1.attn1.to_q|blocks.1.attn1.to_k|blocks.1.attn1.to_v");
  const load::LinearPlan* down = layer(pn, "blocks.0.ffn.down");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->checkpoint_names(), "blocks.0.ffn.2");
  // Bound tensors carry both names.
  const load::BoundParam* deq = qkv->shards[1].param("deq_scale");
  ASSERT_TRUE(deq && deq->tensor);
  EXPECT_EQ(deq->tensor->name, "blocks.1.self_attn.k.deq_scale");
  EXPECT_EQ(deq->tensor->canonical, "blocks.1.attn1.to_k.deq_scale");
}

// Raw tensors in native names with a description rewritten in Diffusers names (and the reverse): each is
// mapped from its own namespace.
TEST(Plan, DescriptionNamespaceIsDetectedOnItsOwn) {
  for (bool native_tensors : {true, false}) {
    TinyCheckpoint c;
    c.build_float();
    c.quantize_blocks("W8A8_DYNAMIC");
    c.native_names = native_tensors;
    c.native_description = !native_tensors;
    TempDir dir;
    load::ComponentPlan p = plan_dir(c.write(dir.path()));
    ASSERT_TRUE(p.ok()) << all_problems(p);
    EXPECT_EQ(p.description_namespace, native_tensors ? "diffusers" : "native");
    EXPECT_EQ(layer(p, "blocks.0.ffn.down")->scheme, SchemeId::W8A8Dynamic);
    EXPECT_EQ(layer(p, "blocks.1.cross_attn.kv")->scheme, SchemeId::W8A8Dynamic);
  }
}

// Regression (loading.md §4): the FLOAT skip must use the same mapped name as the scheme lookup. Each runtime
// layer is marked FLOAT in turn, in both namespaces; the FFN down projection (ffn.net.2 / ffn.2 -> ffn.down) is
// the one the reference got wrong.
TEST(Plan, EachQuantizableLayerCanBeFloatInTurn) {
  for (bool native : {false, true}) {
    for (const auto& [rt, shards] : kBlockRuntime) {
      TinyCheckpoint c;
      c.build_float();
      c.quantize_blocks("W8A8_DYNAMIC");
      for (const auto& s : shards) {
        auto [n, k] = c.nk("blocks.1." + s);
        c.set_float_linear("blocks.1." + s, n, k);
      }
      c.native_names = c.native_description = c.native_config = native;
      TempDir dir;
      load::ComponentPlan p = plan_dir(c.write(dir.path()));
      ASSERT_TRUE(p.ok()) << rt << (native ? " native\n" : " diffusers\n") << all_problems(p);
      EXPECT_EQ(layer(p, "blocks.1." + rt)->scheme, SchemeId::Float) << rt;
      EXPECT_EQ(layer(p, "blocks.0." + rt)->scheme, SchemeId::W8A8Dynamic) << rt;
      for (const auto& [other, _] : kBlockRuntime)
        if (other != rt) EXPECT_EQ(layer(p, "blocks.1." + other)->scheme, SchemeId::W8A8Dynamic) << other;
    }
  }
}

TEST(Plan, StaticW8A8BiasIsConsumedButFolded) {
  TinyCheckpoint c;
  c.build_float();
  c.quantize_blocks("W8A8");
  TempDir dir;
  load::ComponentPlan p = plan_dir(c.write(dir.path()));
  ASSERT_TRUE(p.ok()) << all_problems(p);
  const load::LinearPlan* l = layer(p, "blocks.0.cross_attn.q");
  EXPECT_TRUE(l->bias_folded);
  EXPECT_TRUE(l->shards[0].param("bias")->tensor.has_value());
  EXPECT_FALSE(l->shards[0].param("weight_scale")->tensor.has_value());  // AscendV1 omits it: optional
  // No unused-tensor warning for the folded bias.
  EXPECT_TRUE(problems_with(p, "unused").empty()) << all_problems(p);
  ASSERT_NE(layer(p, "head.proj"), nullptr);
  EXPECT_FALSE(layer(p, "head.proj")->bias_folded);
  EXPECT_EQ(layer(p, "head.proj")->canonical_names(), "proj_out");
}

TEST(Plan, MissingQuantTensorsAreErrorsNamingTheLayer) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"W8A8", "quant_bias"},        {"W8A8", "deq_scale"},          {"W8A8", "input_scale"},
      {"W8A8", "input_offset"},      {"W8A8_DYNAMIC", "weight_scale"}, {"W4A4_DYNAMIC", "weight_scale"},
      {"W8A16", "weight_scale"},     {"W4A8_DYNAMIC", "weight_scale"}, {"W8A8_DYNAMIC", "weight"},
  };
  for (bool native : {false, true}) {
    for (const auto& [type, suffix] : cases) {
      TinyCheckpoint c;
      c.build_float();
      c.quantize_blocks(type);
      c.tensors.erase("blocks.1.attn2.to_out.0." + suffix);
      c.native_names = c.native_description = c.native_config = native;
      TempDir dir;
      load::ComponentPlan p = plan_dir(c.write(dir.path()));
      EXPECT_FALSE(p.ok());
      auto errs = problems_with(p, "missing tensor '" + suffix + "'");
      ASSERT_EQ(errs.size(), 1u) << type << " " << suffix << "\n" << all_problems(p);
      const load::Problem& e = *errs[0];
      EXPECT_EQ(e.severity, Severity::Error);
      EXPECT_EQ(e.where.layer, "blocks.1.attn2.to_out.0");
      EXPECT_EQ(e.where.canonical, "blocks.1.attn2.to_out.0." + suffix);
      EXPECT_EQ(e.where.tensor, (native ? "blocks.1.cross_attn.o." : "blocks.1.attn2.to_out.0.") + suffix);
      EXPECT_EQ(e.where.scheme, type);
      EXPECT_FALSE(e.where.file.empty());
      EXPECT_EQ(e.where.found, "no such tensor");
      EXPECT_FALSE(layer(p, "blocks.1.cross_attn.out")->shards.empty());
    }
  }
}

TEST(Plan, FusedShardsWithMixedSchemesAreAnError) {
  TinyCheckpoint c;
  c.build_float();
  c.quantize_blocks("W8A8_DYNAMIC");
  auto [n, k] = c.nk("blocks.0.attn1.to_k");
  c.set_w8a8("blocks.0.attn1.to_k", n, k);
  TempDir dir;
  load::ComponentPlan p = plan_dir(c.write(dir.path()));
  EXPECT_FALSE(p.ok());
  auto errs = problems_with(p, "fused shards disagree on the scheme");
  ASSERT_EQ(errs.size(), 1u) << all_problems(p);
  EXPECT_EQ(errs[0]->where.layer, "blocks.0.self_attn.qkv");
  EXPECT_NE(errs[0]->where.found.find("blocks.0.attn1.to_k: W8A8"), std::string::npos);
  EXPECT_NE(errs[0]->where.found.find("blocks.0.attn1.to_q: W8A8_DYNAMIC"), std::string::npos);
  EXPECT_FALSE(layer(p, "blocks.0.self_attn.qkv")->scheme.has_value());
  // Its tensors are not reported a second time as unused.
  EXPECT_TRUE(problems_with(p, "unused").empty()) << all_problems(p);
  EXPECT_EQ(p.error_count(), 1u) << all_problems(p);
}

TEST(Plan, StaticW8A8FusedShardsMustShareActivationParams) {
  TinyCheckpoint c;
  c.build_float();
  c.quantize_blocks("W8A8");
  auto [n, k] = c.nk("blocks.1.attn2.to_v");
  c.set_w8a8("blocks.1.attn2.to_v", n, k, false, /*s_x=*/0.07f);
  TempDir dir;
  load::ComponentPlan p = plan_dir(c.write(dir.path()));
  auto errs = problems_with(p, "disagree on input_scale");
  ASSERT_EQ(errs.size(), 1u) << all_problems(p);
  EXPECT_EQ(errs[0]->where.layer, "blocks.1.cross_attn.kv");
  EXPECT_EQ(errs[0]->where.canonical, "blocks.1.attn2.to_v.input_scale");
  EXPECT_EQ(p.error_count(), 1u) << all_problems(p);
}

TEST(Plan, DescriptionWithoutTheLayerWeightEntry) {
  TinyCheckpoint c;
  c.build_float();
  c.quantize_blocks("W8A8_DYNAMIC");
  c.description.erase("blocks.0.ffn.net.2.weight");
  TempDir dir;
  load::ComponentPlan p = plan_dir(c.write(dir.path()));
  auto errs = problems_with(p, "no scheme for layer");
  ASSERT_EQ(errs.size(), 1u) << all_problems(p);
  EXPECT_EQ(errs[0]->where.canonical, "blocks.0.ffn.net.2.weight");
  EXPECT_EQ(errs[0]->where.layer, "blocks.0.ffn.net.2");
  EXPECT_EQ(p.error_count(), 1u) << all_problems(p);
}

TEST(Plan, UnknownAndUnsupportedTypeStrings) {
  {
    TinyCheckpoint c;
    c.build_float();
    c.quantize_blocks("W8A8_DYNAMIC");
    for (auto& [k, v] : c.description)
      if (k.rfind("blocks.0.attn1.to_out.0.", 0) == 0 && v != "FLOAT") v = "W8A8_DYNAMIK";
    TempDir dir;
    load::ComponentPlan p = plan_dir(c.write(dir.path()));
    auto errs = problems_with(p, "unknown quantization type");
    ASSERT_GE(errs.size(), 1u) << all_problems(p);
    bool named = false;
    for (auto* e : errs) named = named || e->where.tensor == "blocks.0.attn1.to_out.0.weight";
    EXPECT_TRUE(named) << all_problems(p);
    EXPECT_FALSE(layer(p, "blocks.0.self_attn.out")->scheme.has_value());
  }
  for (const char* type : {"W8A8_MXFP8", "W4A4_FLATQUANT_DYNAMIC", "W8A8SC", "W8A8_MIX", "C8"}) {
    TinyCheckpoint c;
    c.build_float();
    c.quantize_blocks("W8A8_DYNAMIC");
    c.description["blocks.1.ffn.net.0.proj.weight"] = type;
    TempDir dir;
    load::ComponentPlan p = plan_dir(c.write(dir.path()));
    EXPECT_FALSE(p.ok());
    EXPECT_FALSE(layer(p, "blocks.1.ffn.up")->scheme.has_value()) << type;
    const std::string needle = std::string(type) == "C8" ? "not a linear layer scheme" : "recognised, not supported yet";
    auto errs = problems_with(p, needle);
    ASSERT_EQ(errs.size(), 1u) << type << "\n" << all_problems(p);
    EXPECT_EQ(errs[0]->where.layer, "blocks.1.ffn.net.0.proj");
    EXPECT_EQ(errs[0]->where.scheme, type);
  }
}

TEST(Plan, WrongDtypeOrShapeOfQuantTensors) {
  struct Case {
    std::string type, suffix;
    DType dtype;
    Shape shape;  // empty: keep the shape
    std::string needle;
  };
  const int64_t D = 8;
  const std::vector<Case> cases = {
      {"W8A8", "quant_bias", DType::F32, {}, "wrong dtype"},
      {"W8A8", "deq_scale", DType::BF16, {}, "wrong dtype"},
      {"W8A8", "deq_scale", DType::I64, {D + 1}, "wrong shape"},
      {"W8A8", "input_scale", DType::F32, {2}, "wrong shape"},
      {"W8A8", "weight", DType::F32, {}, "wrong dtype"},
      {"W8A8", "weight", DType::I8, {D, D + 1}, "wrong shape"},
      {"W8A8_DYNAMIC", "weight_scale", DType::I32, {}, "wrong dtype"},
      {"W8A8_DYNAMIC", "weight_scale", DType::F32, {D + 1, 1}, "wrong shape"},
      {"W8A8_DYNAMIC", "weight_scale", DType::F32, {D, 4}, "per-group"},
      {"W4A8_DYNAMIC", "weight", DType::I8, {D, D}, "wrong shape"},
      {"FLOAT", "weight", DType::I8, {}, "wrong dtype"},
      {"FLOAT", "bias", DType::I32, {}, "wrong dtype"},
  };
  for (const auto& cs : cases) {
    TinyCheckpoint c;
    c.build_float();
    if (cs.type != "FLOAT") c.quantize_blocks(cs.type);
    const std::string name = "blocks.0.attn2.to_q." + cs.suffix;
    const Tensor& old = c.tensors.at(name);
    Shape shape = cs.shape.empty() ? old.shape() : cs.shape;
    c.tensors[name] = Tensor::zeros(shape, cs.dtype);
    TempDir dir;
    load::ComponentPlan p = plan_dir(c.write(dir.path()));
    auto errs = problems_with(p, cs.needle);
    ASSERT_EQ(errs.size(), 1u) << cs.type << " " << cs.suffix << "\n" << all_problems(p);
    EXPECT_EQ(errs[0]->severity, Severity::Error);
    EXPECT_EQ(errs[0]->where.tensor, name);
    EXPECT_EQ(errs[0]->where.layer, "blocks.0.attn2.to_q");
    EXPECT_EQ(errs[0]->where.scheme, cs.type);
    EXPECT_FALSE(errs[0]->where.expected.empty());
    EXPECT_FALSE(errs[0]->where.found.empty());
  }
}

TEST(Plan, DtypeVariantsTheFormatAllows) {
  TinyCheckpoint c;
  c.build_float();
  c.quantize_blocks("W8A8");
  // input_scale/offset as bf16 or f16, deq_scale as f32, weight_scale as [N] for a dynamic layer.
  c.tensors["blocks.0.attn1.to_q.input_scale"] = to_bf16(scalar_f32(0.05f));
  c.tensors["blocks.0.attn1.to_k.input_scale"] = to_bf16(scalar_f32(0.05f));
  c.tensors["blocks.0.attn1.to_v.input_scale"] = to_bf16(scalar_f32(0.05f));
  auto [n, k] = c.nk("blocks.1.ffn.net.2");
  c.set_w8a8("blocks.1.ffn.net.2", n, k, /*deq_f32=*/true);
  auto [nu, ku] = c.nk("blocks.1.ffn.net.0.proj");
  c.set_dynamic("blocks.1.ffn.net.0.proj", nu, ku, "W8A8_DYNAMIC");
  c.tensors["blocks.1.ffn.net.0.proj.weight_scale"] = c.tensors["blocks.1.ffn.net.0.proj.weight_scale"].reshape({16});
  TempDir dir;
  load::ComponentPlan p = plan_dir(c.write(dir.path()));
  EXPECT_TRUE(p.ok()) << all_problems(p);
}

TEST(Plan, W4A8NeedsVersion1AndGroupSizeZero) {
  {
    TinyCheckpoint c;
    c.build_float();
    c.quantize_blocks("W4A8_DYNAMIC");
    TempDir dir;
    load::ComponentPlan p = plan_dir(c.write(dir.path()));
    EXPECT_TRUE(p.ok()) << all_problems(p);
  }
  {
    TinyCheckpoint c;
    c.build_float();
    c.quantize_blocks("W4A8_DYNAMIC");
    c.version = "";
    TempDir dir;
    load::ComponentPlan p = plan_dir(c.write(dir.path()));
    auto errs = problems_with(p, "legacy W4A8_DYNAMIC");
    EXPECT_EQ(errs.size(), 14u) << all_problems(p);  // every runtime layer of both blocks
  }
  {
    TinyCheckpoint c;
    c.build_float();
    c.quantize_blocks("W8A8_DYNAMIC");
    c.group_size = 4;
    TempDir dir;
    load::ComponentPlan p = plan_dir(c.write(dir.path()));
    auto errs = problems_with(p, "per-group W8A8_DYNAMIC");
    EXPECT_EQ(errs.size(), 14u) << all_problems(p);
    EXPECT_EQ(errs[0]->where.found, "group_size 4");
  }
}

TEST(Plan, AccountingOfExtraAndMissingTensors) {
  TinyCheckpoint c;
  c.build_float();
  c.quantize_blocks("W8A8_DYNAMIC");
  c.tensors["some.stray.tensor"] = scalar_f32(1);                              // belongs to nothing
  c.tensors["blocks.0.ffn.net.2.weight_scale_second"] = scalar_f32(1);         // under a quantized layer
  c.description["blocks.9.attn1.to_q.weight"] = "W8A8_DYNAMIC";                // names no tensor
  c.tensors.erase("blocks.1.attn1.norm_k.weight");                             // missing model parameter
  c.tensors["blocks.1.norm2.bias"] = Tensor::zeros({8}, DType::I8);           // float param, wrong dtype
  TempDir dir;
  load::ComponentPlan p = plan_dir(c.write(dir.path()));
  auto unused = problems_with(p, "unused tensor");
  ASSERT_EQ(unused.size(), 1u) << all_problems(p);
  EXPECT_EQ(unused[0]->severity, Severity::Warning);
  EXPECT_EQ(unused[0]->where.tensor, "some.stray.tensor");
  auto extra = problems_with(p, "not declared by the layer's scheme");
  ASSERT_EQ(extra.size(), 1u) << all_problems(p);
  EXPECT_EQ(extra[0]->severity, Severity::Error);
  EXPECT_EQ(extra[0]->where.layer, "blocks.0.ffn.net.2");
  auto absent = problems_with(p, "not in the weight files");
  ASSERT_EQ(absent.size(), 2u) << all_problems(p);  // the stray entry and the erased norm's entry
  std::set<std::string> absent_names;
  for (auto* a : absent) {
    EXPECT_EQ(a->severity, Severity::Warning);
    absent_names.insert(a->where.tensor);
  }
  EXPECT_EQ(absent_names, (std::set<std::string>{"blocks.9.attn1.to_q.weight", "blocks.1.attn1.norm_k.weight"}));
  auto missing = problems_with(p, "missing model parameter");
  ASSERT_EQ(missing.size(), 1u) << all_problems(p);
  EXPECT_EQ(missing[0]->where.canonical, "blocks.1.attn1.norm_k.weight");
  auto dtype = problems_with(p, "wrong dtype for a float parameter");
  ASSERT_EQ(dtype.size(), 1u) << all_problems(p);
  EXPECT_EQ(p.error_count(), 3u) << all_problems(p);
  EXPECT_EQ(p.warning_count(), 3u) << all_problems(p);
}

TEST(Plan, FloatLayerWithoutItsBiasIsMissingAParameter) {
  TinyCheckpoint c;
  c.build_float();
  c.tensors.erase("blocks.0.attn1.to_v.bias");
  TempDir dir;
  load::ComponentPlan p = plan_dir(c.write(dir.path()));
  auto errs = problems_with(p, "missing tensor 'bias'");
  ASSERT_EQ(errs.size(), 1u) << all_problems(p);
  EXPECT_EQ(errs[0]->where.canonical, "blocks.0.attn1.to_v.bias");
}

TEST(Plan, EveryProblemIsCollectedNotThrown) {
  TinyCheckpoint c;
  c.build_float();
  c.quantize_blocks("W8A8");
  for (int b = 0; b < 2; ++b) c.tensors.erase("blocks." + std::to_string(b) + ".ffn.net.2.quant_bias");
  c.tensors.erase("blocks.0.attn1.to_out.0.deq_scale");
  TempDir dir;
  load::ComponentPlan p = plan_dir(c.write(dir.path()));
  EXPECT_EQ(problems_with(p, "missing tensor").size(), 3u) << all_problems(p);
}

TEST(Plan, UnreadableInputsBecomeProblems) {
  TinyCheckpoint c;
  c.build_float();
  c.quantize_blocks("W8A8_DYNAMIC");
  TempDir dir;
  c.write(dir.path());
  write_text(dir.path() + "/quant_model_description.json", "{\"a.weight\": \"W8A8\",,}");
  load::ComponentPlan p = plan_dir(dir.path());
  ASSERT_EQ(p.error_count(), 1u) << all_problems(p);
  EXPECT_EQ(p.problems[0].where.file, dir.path() + "/quant_model_description.json");
  EXPECT_NE(p.problems[0].text().find("line 1"), std::string::npos) << p.problems[0].text();
}

}  // namespace
}  // namespace qdit::test
