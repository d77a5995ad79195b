// The loader executing plans: zero-copy views, decoding, fusion and the value checks, against the tensors the
// test wrote (the expected values come from the builder's own inputs, not from qdit's decoders).
#include "qdit/load/loader.h"

#include <gtest/gtest.h>

#include <cstring>

#include "load/plan_helpers.h"

namespace qdit::test {
namespace {

void expect_rows_equal(const Tensor& got, int64_t row0, const Tensor& want) {
  ASSERT_EQ(got.dtype(), want.dtype());
  const size_t row_bytes = want.nbytes() / want.dim(0);
  EXPECT_EQ(std::memcmp(static_cast<const char*>(got.raw()) + row0 * row_bytes, want.raw(), want.nbytes()), 0);
}

float f32_at(const Tensor& t, int64_t i) { return t.data<float>()[i]; }

TEST(Loader, FloatModelViewsFusesAndConverts) {
  TinyCheckpoint c;
  c.with_description = false;
  c.build_float();
  c.tensors["blocks.1.norm2.weight"] = to_bf16(c.tensors["blocks.1.norm2.weight"]);
  TempDir dir;
  load::ComponentPlan p = plan_dir(c.write(dir.path()));
  ASSERT_TRUE(p.ok()) << all_problems(p);
  wan::WanWeights w = load::load_weights(p);
  ASSERT_EQ(w.blocks.size(), 2u);

  // Unfused float weight: a view into the mapping, bytes as written.
  const QuantLinear& out = w.blocks[0].self_out;
  EXPECT_EQ(out.scheme, SchemeId::Float);
  expect_rows_equal(out.weight, 0, c.tensors["blocks.0.attn1.to_out.0.weight"]);
  const load::LinearPlan* l = layer(p, "blocks.0.self_attn.out");
  EXPECT_EQ(out.weight.raw(), p.store->view(l->shards[0].param("weight")->tensor->stored).raw());
  // Fused q|k|v along N.
  const QuantLinear& qkv = w.blocks[1].self_qkv;
  ASSERT_EQ(qkv.weight.shape(), (Shape{24, 8}));
  expect_rows_equal(qkv.weight, 0, c.tensors["blocks.1.attn1.to_q.weight"]);
  expect_rows_equal(qkv.weight, 8, c.tensors["blocks.1.attn1.to_k.weight"]);
  expect_rows_equal(qkv.weight, 16, c.tensors["blocks.1.attn1.to_v.weight"]);
  expect_rows_equal(qkv.bias, 16, c.tensors["blocks.1.attn1.to_v.bias"]);
  // Conv3d patch embedding viewed as [D, Cin*4], same bytes.
  ASSERT_EQ(w.patch_embed.weight.shape(), (Shape{8, 16}));
  EXPECT_EQ(std::memcmp(w.patch_embed.weight.raw(), c.tensors["patch_embedding.weight"].raw(), 8 * 16 * 4), 0);
  // Modulation tables [1,6,D] -> [6,D], [1,2,D] -> [2,D].
  ASSERT_EQ(w.blocks[0].modulation.shape(), (Shape{6, 8}));
  EXPECT_EQ(f32_at(w.blocks[0].modulation, 5 * 8 + 3), f32_at(c.tensors["blocks.0.scale_shift_table"], 5 * 8 + 3));
  ASSERT_EQ(w.head_modulation.shape(), (Shape{2, 8}));
  // A BF16 norm becomes F32 holding exactly the bf16 values.
  ASSERT_EQ(w.blocks[1].cross_norm_w.dtype(), DType::F32);
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(f32_at(w.blocks[1].cross_norm_w, i), bf16_to_f32(c.tensors["blocks.1.norm2.weight"].data<uint16_t>()[i]));
  EXPECT_EQ(f32_at(w.blocks[1].cross_norm_b, 2), f32_at(c.tensors["blocks.1.norm2.bias"], 2));
  // Everything the Wan T2V runtime needs is filled.
  for (const auto& b : w.blocks) {
    for (const QuantLinear* q : {&b.self_qkv, &b.self_out, &b.cross_q, &b.cross_kv, &b.cross_out, &b.ffn_up, &b.ffn_down})
      EXPECT_TRUE(q->weight.defined() && q->bias.defined());
    for (const Tensor* t : {&b.self_norm_q, &b.self_norm_k, &b.cross_norm_q, &b.cross_norm_k}) EXPECT_TRUE(t->defined());
    EXPECT_FALSE(b.cross_kv_img.weight.defined());
  }
  for (const QuantLinear* q : {&w.time_fc1, &w.time_fc2, &w.time_proj, &w.text_fc1, &w.text_fc2, &w.proj_out})
    EXPECT_TRUE(q->weight.defined());
}

TEST(Loader, StaticW8A8DeqScaleInt64AndF32DecodeTheSame) {
  TinyCheckpoint a;
  a.build_float();
  a.quantize_blocks("W8A8");
  TinyCheckpoint b = a;
  for (const auto& [name, nk] : b.linears())
    if (name.rfind("blocks.", 0) == 0) {
      // Same values, stored as F32 instead of the int64 bit pattern.
      Tensor i64 = b.tensors[name + ".deq_scale"];
      Tensor f = Tensor::empty({nk.first}, DType::F32);
      for (int64_t i = 0; i < nk.first; ++i) {
        const uint32_t bits = static_cast<uint32_t>(i64.data<int64_t>()[i]);
        std::memcpy(&f.data<float>()[i], &bits, 4);
      }
      b.tensors[name + ".deq_scale"] = f;
    }
  TempDir da, db;
  load::ComponentPlan pa = plan_dir(a.write(da.path())), pb = plan_dir(b.write(db.path()));
  ASSERT_TRUE(pa.ok() && pb.ok()) << all_problems(pa) << all_problems(pb);
  wan::WanWeights wa = load::load_weights(pa), wb = load::load_weights(pb);
  const QuantLinear& qa = wa.blocks[1].cross_kv;
  const QuantLinear& qb = wb.blocks[1].cross_kv;
  EXPECT_EQ(qa.scheme, SchemeId::W8A8);
  ASSERT_EQ(qa.deq_scale.shape(), (Shape{16}));
  for (int64_t i = 0; i < 16; ++i) {
    // The builder wrote s_x * 0.001 * (row + 1) per shard.
    const float want = 0.05f * static_cast<float>(0.001 * (i % 8 + 1));
    EXPECT_EQ(f32_at(qa.deq_scale, i), want) << i;
    EXPECT_EQ(f32_at(qb.deq_scale, i), want) << i;
    EXPECT_EQ(qa.quant_bias.data<int32_t>()[i], static_cast<int32_t>(100 * (i % 8) - 7));
  }
  EXPECT_EQ(qa.input_scale, 0.05f);
  EXPECT_EQ(qa.input_offset, -3.0f);
  // The float bias is folded into quant_bias: never applied.
  EXPECT_FALSE(qa.bias.defined());
  expect_rows_equal(qa.weight, 8, a.tensors["blocks.1.attn2.to_v.weight"]);
}

TEST(Loader, DynamicSchemesFlattenScales) {
  TinyCheckpoint c;
  c.build_float();
  c.quantize_blocks("W8A8_DYNAMIC");
  c.set_dynamic("blocks.0.ffn.net.2", 8, 16, "W8A16");
  c.tensors["blocks.0.ffn.net.2.weight_offset"] = random_uniform_f32({8, 1}, c.rng, -3, 3);  // asymmetric W8A16
  c.tensors["blocks.0.ffn.net.0.proj.weight_scale"] = to_bf16(c.tensors["blocks.0.ffn.net.0.proj.weight_scale"]);
  TempDir dir;
  load::ComponentPlan p = plan_dir(c.write(dir.path()));
  ASSERT_TRUE(p.ok()) << all_problems(p);
  wan::WanWeights w = load::load_weights(p);
  const QuantLinear& up = w.blocks[0].ffn_up;
  EXPECT_EQ(up.scheme, SchemeId::W8A8Dynamic);
  ASSERT_EQ(up.weight_scale.shape(), (Shape{16}));
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(f32_at(up.weight_scale, i), bf16_to_f32(c.tensors["blocks.0.ffn.net.0.proj.weight_scale"].data<uint16_t>()[i]));
  EXPECT_FALSE(up.weight_offset.defined());  // verified zero, not applied
  const QuantLinear& down = w.blocks[0].ffn_down;
  EXPECT_EQ(down.scheme, SchemeId::W8A16);
  ASSERT_EQ(down.weight_offset.shape(), (Shape{8}));
  EXPECT_EQ(f32_at(down.weight_offset, 5), f32_at(c.tensors["blocks.0.ffn.net.2.weight_offset"], 5));
  EXPECT_EQ(f32_at(down.bias, 7), f32_at(c.tensors["blocks.0.ffn.net.2.bias"], 7));
  const QuantLinear& kv = w.blocks[1].cross_kv;
  ASSERT_EQ(kv.weight_scale.shape(), (Shape{16}));
  EXPECT_EQ(f32_at(kv.weight_scale, 9), f32_at(c.tensors["blocks.1.attn2.to_v.weight_scale"], 1));
}

TEST(Loader, W4A8UnpacksAlongNAndVerifiesScaleBias) {
  TinyCheckpoint c;
  c.build_float();
  c.quantize_blocks("W4A8_DYNAMIC");
  Tensor w_up = c.set_w4a8("blocks.1.ffn.net.0.proj", 16, 8);
  TempDir dir;
  load::ComponentPlan p = plan_dir(c.write(dir.path()));
  ASSERT_TRUE(p.ok()) << all_problems(p);
  std::vector<load::Problem> warnings;
  wan::WanWeights w = load::load_weights(p, &warnings);
  EXPECT_TRUE(warnings.empty()) << warnings[0].text();
  const QuantLinear& up = w.blocks[1].ffn_up;
  ASSERT_EQ(up.weight.shape(), (Shape{16, 8}));
  EXPECT_EQ(std::memcmp(up.weight.raw(), w_up.raw(), 16 * 8), 0);

  // A scale_bias that does not restate the weights is reported (and not used).
  c.tensors["blocks.1.ffn.net.0.proj.scale_bias"].data<float>()[3] += 1.0f;
  TempDir dir2;
  load::ComponentPlan p2 = plan_dir(c.write(dir2.path()));
  warnings.clear();
  load::load_weights(p2, &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].where.tensor, "blocks.1.ffn.net.0.proj.scale_bias");
  EXPECT_NE(warnings[0].where.expected.find("row 3"), std::string::npos) << warnings[0].text();
}

Error load_error(TinyCheckpoint& c) {
  TempDir dir;
  load::ComponentPlan p = plan_dir(c.write(dir.path()));
  EXPECT_TRUE(p.ok()) << all_problems(p);
  try {
    load::load_weights(p);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "load succeeded";
  return Error(ErrorKind::Internal, "none");
}

TEST(Loader, ValueChecks) {
  {
    TinyCheckpoint c;
    c.build_float();
    c.quantize_blocks("W4A4_DYNAMIC");
    c.tensors["blocks.0.attn2.to_q.weight"].data<int8_t>()[9] = 8;  // row 1, column 1
    Error e = load_error(c);
    EXPECT_EQ(e.kind(), ErrorKind::Checkpoint);
    EXPECT_EQ(e.context().tensor, "blocks.0.attn2.to_q.weight");
    EXPECT_EQ(e.context().found, "8 at [1, 1]");
  }
  {
    TinyCheckpoint c;
    c.build_float();
    c.quantize_blocks("W8A8_DYNAMIC");
    c.tensors["blocks.1.attn1.to_k.weight_offset"].data<float>()[2] = 0.5f;
    Error e = load_error(c);
    EXPECT_EQ(e.context().tensor, "blocks.1.attn1.to_k.weight_offset");
    EXPECT_EQ(e.context().layer, "blocks.1.self_attn.qkv");
    EXPECT_NE(std::string(e.what()).find("asymmetric"), std::string::npos);
  }
  {
    TinyCheckpoint c;
    c.build_float();
    c.quantize_blocks("W8A8");
    c.set_w8a8("blocks.0.attn2.to_q", 8, 8, false, 0.05f, -2.5f);
    Error e = load_error(c);
    EXPECT_EQ(e.context().tensor, "blocks.0.attn2.to_q.input_offset");
    EXPECT_EQ(e.message(), "invalid input_offset");
  }
  {
    TinyCheckpoint c;
    c.build_float();
    c.quantize_blocks("W8A8");
    c.set_w8a8("blocks.0.attn2.to_q", 8, 8, false, -1.0f, 0.0f);
    Error e = load_error(c);
    EXPECT_EQ(e.message(), "invalid input_scale");
  }
}

TEST(Loader, RefusesAPlanWithErrors) {
  TinyCheckpoint c;
  c.build_float();
  c.quantize_blocks("W8A8");
  c.tensors.erase("blocks.0.attn2.to_q.quant_bias");
  TempDir dir;
  load::ComponentPlan p = plan_dir(c.write(dir.path()));
  ASSERT_FALSE(p.ok());
  try {
    load::load_weights(p);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Checkpoint);
    EXPECT_EQ(e.context().canonical, "blocks.0.attn2.to_q.quant_bias");
    EXPECT_NE(e.message().find("1 error"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qdit::test
