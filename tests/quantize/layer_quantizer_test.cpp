// The tensors written per scheme (modelslim-format.md §2.1-§2.5), with every value re-derived here, plainly.
#include "qdit/quantize/layer_quantizer.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>

#include "util/test_util.h"

namespace qdit::quantize {
namespace {

struct Expect {
  std::string suffix;
  DType dtype;
  Shape shape;
  std::string type;
};

void expect_decls(const std::vector<LayerTensor>& got, const std::vector<Expect>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].decl.suffix, want[i].suffix) << i;
    EXPECT_EQ(got[i].decl.dtype, want[i].dtype) << want[i].suffix;
    EXPECT_EQ(got[i].decl.shape, want[i].shape) << want[i].suffix;
    EXPECT_EQ(got[i].decl.type, want[i].type) << want[i].suffix;
    EXPECT_EQ(got[i].data.dtype(), want[i].dtype) << want[i].suffix;
    EXPECT_EQ(got[i].data.shape(), want[i].shape) << want[i].suffix;
  }
}

const LayerTensor& find(const std::vector<LayerTensor>& v, const std::string& suffix) {
  for (const auto& t : v)
    if (t.decl.suffix == suffix) return t;
  throw std::runtime_error("no " + suffix);
}

// s_w and W_q recomputed in the test from the float weight.
void expect_weight_and_scale(const Tensor& w, const std::vector<LayerTensor>& out, int qmax) {
  const int64_t n = w.dim(0), k = w.dim(1);
  const Tensor& q = find(out, "weight").data;
  const Tensor& s = find(out, "weight_scale").data;
  for (int64_t r = 0; r < n; ++r) {
    float amax = 0;
    for (int64_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(w.data<float>()[r * k + i]));
    const float sw = amax / qmax;
    ASSERT_EQ(s.data<float>()[r], sw);
    for (int64_t i = 0; i < k; ++i) {
      const double exact = w.data<float>()[r * k + i] / sw;
      ASSERT_LE(std::fabs(q.data<int8_t>()[r * k + i] - exact), 0.5 + 1e-4) << r << "," << i;
    }
  }
}

TEST(LayerQuantizer, DynamicInt8WritesWeightScaleZeroOffsetAndFloatBias) {
  test::Rng rng(11);
  Tensor w = test::random_normal_f32({6, 10}, rng, 0, 0.2), b = test::random_normal_f32({6}, rng);
  LayerQuantOptions opt;
  opt.scheme = SchemeId::W8A8Dynamic;
  auto out = quantize_layer(w, b, opt, {});
  expect_decls(out, {{"weight", DType::I8, {6, 10}, "W8A8_DYNAMIC"},
                     {"weight_scale", DType::F32, {6, 1}, "W8A8_DYNAMIC"},
                     {"weight_offset", DType::F32, {6, 1}, "W8A8_DYNAMIC"},
                     {"bias", DType::F32, {6}, "FLOAT"}});
  expect_weight_and_scale(w, out, 127);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(find(out, "weight_offset").data.data<float>()[i], 0.0f);
    EXPECT_EQ(find(out, "bias").data.data<float>()[i], b.data<float>()[i]);
  }
  // Declarations agree with what is produced, before any data is read.
  auto decls = quantized_layer_decls(opt, 6, 10, true);
  ASSERT_EQ(decls.size(), out.size());
  for (size_t i = 0; i < decls.size(); ++i) EXPECT_EQ(decls[i].shape, out[i].decl.shape);
}

TEST(LayerQuantizer, W4A4AndW8A16WithoutBias) {
  test::Rng rng(12);
  Tensor w = test::random_normal_f32({4, 16}, rng, 0, 1.0);
  LayerQuantOptions opt;
  opt.scheme = SchemeId::W4A4Dynamic;
  auto out = quantize_layer(w, Tensor(), opt, {});
  expect_decls(out, {{"weight", DType::I8, {4, 16}, "W4A4_DYNAMIC"},
                     {"weight_scale", DType::F32, {4, 1}, "W4A4_DYNAMIC"},
                     {"weight_offset", DType::F32, {4, 1}, "W4A4_DYNAMIC"}});
  expect_weight_and_scale(w, out, 7);
  opt.scheme = SchemeId::W8A16;
  out = quantize_layer(w, Tensor(), opt, {});
  expect_decls(out, {{"weight", DType::I8, {4, 16}, "W8A16"},
                     {"weight_scale", DType::F32, {4, 1}, "W8A16"},
                     {"weight_offset", DType::F32, {4, 1}, "W8A16"}});
  expect_weight_and_scale(w, out, 127);
}

TEST(LayerQuantizer, StaticW8A8TensorsAndInt64DeqScaleBits) {
  test::Rng rng(13);
  Tensor w = test::random_normal_f32({5, 12}, rng, 0, 0.3), b = test::random_normal_f32({5}, rng, 0, 0.1);
  LayerQuantOptions opt;
  opt.scheme = SchemeId::W8A8;
  opt.activation = StaticActivationParams{0.05f, -10.0f};
  auto out = quantize_layer(w, b, opt, {});
  expect_decls(out, {{"weight", DType::I8, {5, 12}, "W8A8"},
                     {"input_scale", DType::F32, {1}, "W8A8"},
                     {"input_offset", DType::F32, {1}, "W8A8"},
                     {"deq_scale", DType::I64, {5}, "W8A8"},
                     {"quant_bias", DType::I32, {5}, "W8A8"},
                     {"bias", DType::F32, {5}, "FLOAT"}});
  EXPECT_EQ(find(out, "input_scale").data.data<float>()[0], 0.05f);
  EXPECT_EQ(find(out, "input_offset").data.data<float>()[0], -10.0f);
  const Tensor& q = find(out, "weight").data;
  for (int64_t r = 0; r < 5; ++r) {
    float amax = 0;
    int64_t sum = 0;
    for (int64_t i = 0; i < 12; ++i) {
      amax = std::max(amax, std::fabs(w.data<float>()[r * 12 + i]));
      sum += q.data<int8_t>()[r * 12 + i];
    }
    const float deq = 0.05f * (amax / 127.0f);
    int32_t bits;
    std::memcpy(&bits, &deq, 4);
    EXPECT_EQ(find(out, "deq_scale").data.data<int64_t>()[r], static_cast<int64_t>(bits)) << r;
    const float qb = std::nearbyint(b.data<float>()[r] / deq - (-10.0f) * static_cast<float>(sum));
    EXPECT_EQ(find(out, "quant_bias").data.data<int32_t>()[r], static_cast<int32_t>(qb)) << r;
  }
  // bf16 sources and the MindIE layout keep deq_scale in float32.
  opt.deq_scale_int64 = false;
  out = quantize_layer(w, b, opt, {});
  EXPECT_EQ(find(out, "deq_scale").data.dtype(), DType::F32);
  EXPECT_EQ(find(out, "deq_scale").decl.type, "W8A8");
}

TEST(LayerQuantizer, TargetSchemeFlags) {
  EXPECT_EQ(parse_target_scheme("w8a8"), SchemeId::W8A8);
  EXPECT_EQ(parse_target_scheme("w4a4_dynamic"), SchemeId::W4A4Dynamic);
  EXPECT_STREQ(target_scheme_flag(SchemeId::W8A16), "w8a16");
  try {
    parse_target_scheme("W8A8");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
  }
}

}  // namespace
}  // namespace qdit::quantize
