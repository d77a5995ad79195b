// The LinearInput entry points on the CPU: which form each scheme consumes (on either device; the rule needs no
// GPU), when two layers share an input, the producers (LayerNorm, GELU) in the F32 form against float64, and
// ops::linear on a produced input against ops::linear on the F32 tensor. Forms the CPU does not consume and
// inputs in the wrong form are Internal errors that name the layer and both forms.
#include <gtest/gtest.h>

#include <cmath>
#include <cfloat>
#include <cstring>

#include "layernorm_ref.h"
#include "ops_test_util.h"
#include "qdit/core/error.h"
#include "qdit/ops/ops.h"
#include "util/activation_ref.h"

namespace qdit {
namespace {

using ops::LinearInputForm;
using ops::LinearInputSpec;
using ops::Precision;
using test_ops::Rand;

QuantLinear layer_of(SchemeId scheme, float input_scale = 0.0f, float input_offset = 0.0f) {
  QuantLinear w;
  w.scheme = scheme;
  w.name = "blocks.0.attn1.to_q";
  w.input_scale = input_scale;
  w.input_offset = input_offset;
  return w;
}

TEST(LinearInputSpec, CpuLayersAlwaysConsumeF32) {
  for (SchemeId s : {SchemeId::Float, SchemeId::W8A8, SchemeId::W8A8Dynamic, SchemeId::W4A4Dynamic, SchemeId::W8A16,
                     SchemeId::W4A8Dynamic})
    for (Precision p : {Precision::FP32, Precision::BF16}) {
      const LinearInputSpec spec = ops::linear_input_spec(layer_of(s, 0.5f, 3.0f), p, Device::CPU);
      EXPECT_EQ(spec.form, LinearInputForm::F32) << scheme_name(s);
      EXPECT_EQ(spec.qmin, 0);
      EXPECT_EQ(spec.qmax, 0);
      EXPECT_EQ(spec.input_scale, 0.0f);
    }
}

TEST(LinearInputSpec, CudaLayersConsumeTheirGemmsForm) {
  auto spec = [](SchemeId s, Precision p) { return ops::linear_input_spec(layer_of(s, 0.25f, -3.0f), p, Device::CUDA); };
  EXPECT_EQ(spec(SchemeId::Float, Precision::FP32).form, LinearInputForm::F32);
  EXPECT_EQ(spec(SchemeId::Float, Precision::BF16).form, LinearInputForm::BF16);
  EXPECT_EQ(spec(SchemeId::W8A16, Precision::FP32).form, LinearInputForm::F32);
  EXPECT_EQ(spec(SchemeId::W8A16, Precision::BF16).form, LinearInputForm::BF16);
  for (Precision p : {Precision::FP32, Precision::BF16}) {
    const LinearInputSpec st = spec(SchemeId::W8A8, p);
    EXPECT_EQ(st.form, LinearInputForm::Int8Static);
    EXPECT_EQ(st.input_scale, 0.25f);
    EXPECT_EQ(st.input_offset, -3.0f);
    const LinearInputSpec d8 = spec(SchemeId::W8A8Dynamic, p), d4 = spec(SchemeId::W4A4Dynamic, p),
                          d48 = spec(SchemeId::W4A8Dynamic, p);
    EXPECT_EQ(d8.form, LinearInputForm::Int8PerToken);
    EXPECT_EQ(d8.qmin, -128);
    EXPECT_EQ(d8.qmax, 127);
    EXPECT_EQ(d4.form, LinearInputForm::Int8PerToken);
    EXPECT_EQ(d4.qmin, -8);
    EXPECT_EQ(d4.qmax, 7);
    EXPECT_EQ(d48.qmin, -128);  // int4 weights, int8 activations
    EXPECT_EQ(d48.qmax, 127);
    EXPECT_TRUE(d8 == d48);   // a W8A8_DYNAMIC and a W4A8_DYNAMIC layer can share one input
    EXPECT_FALSE(d8 == d4);   // different ranges
    EXPECT_EQ(d4.describe(), "Int8PerToken[-8,7]");
  }
}

TEST(LinearInputSpec, StaticLayersShareAnInputOnlyWithTheSameScaleAndOffsetBits) {
  auto spec = [](float s, float o) { return ops::linear_input_spec(layer_of(SchemeId::W8A8, s, o), Precision::FP32, Device::CUDA); };
  EXPECT_TRUE(spec(0.5f, 1.0f) == spec(0.5f, 1.0f));
  EXPECT_FALSE(spec(0.5f, 1.0f) == spec(0.5f, 2.0f));
  EXPECT_FALSE(spec(0.5f, 1.0f) == spec(std::nextafter(0.5f, 1.0f), 1.0f));
  EXPECT_FALSE(spec(0.5f, 0.0f) == spec(0.5f, -0.0f));  // compared bit for bit: conservative, never wrong
}

TEST(LinearInput, EmptyHasTheFormsDtypesAndScales) {
  LinearInputSpec s;
  s.form = LinearInputForm::Int8PerToken;
  s.qmin = -128;
  s.qmax = 127;
  ops::LinearInput in = ops::empty_linear_input(s, 7, 40, Device::CPU);
  EXPECT_EQ(in.values.dtype(), DType::I8);
  EXPECT_EQ(in.values.shape(), (Shape{7, 40}));
  EXPECT_EQ(in.token_scale.dtype(), DType::F32);
  EXPECT_EQ(in.token_scale.shape(), (Shape{7}));
  s = LinearInputSpec{};
  s.form = LinearInputForm::BF16;
  in = ops::empty_linear_input(s, 3, 8, Device::CPU);
  EXPECT_EQ(in.values.dtype(), DType::BF16);
  EXPECT_FALSE(in.token_scale.defined());
}

TEST(LinearInput, CpuLayerNormProducesTheF32Form) {
  Rand r(11);
  const int64_t t = 6, d = 96;
  Tensor x = test_ops::uniform_f32({t, d}, r, -2, 3);
  ops::Modulation mod{test_ops::uniform_f32({2, d}, r, -0.5, 0.5), test_ops::uniform_f32({2, d}, r, -0.5, 0.5)};
  const std::vector<double> ref =
      test::layernorm_f64(x, test::LayerNormRefMode::Modulated, &mod.shift, &mod.scale, 1e-6);
  ops::LinearInput in = ops::empty_linear_input(LinearInputSpec{}, t, d, Device::CPU);
  ops::layernorm(x, Tensor(), Tensor(), &mod, 1e-6f, in);
  test_ops::expect_close(in.values, ref, 1e-5, 1e-5, "layernorm into LinearInput");
  // Exactly the F32 op.
  Tensor plain = test_ops::poisoned_f32({t, d});
  ops::layernorm(x, Tensor(), Tensor(), &mod, 1e-6f, plain);
  EXPECT_EQ(std::memcmp(plain.raw(), in.values.raw(), plain.nbytes()), 0);
}

TEST(LinearInput, CpuGeluProducesTheF32FormInPlaceOrNot) {
  Rand r(12);
  const int64_t t = 5, f = 70;
  Tensor x = test_ops::uniform_f32({t, f}, r, -6, 6);
  std::vector<double> ref(static_cast<size_t>(t * f));
  for (int64_t i = 0; i < t * f; ++i) ref[i] = test::gelu_tanh_f64(x.data<float>()[i]);
  ops::LinearInput out = ops::empty_linear_input(LinearInputSpec{}, t, f, Device::CPU);
  ops::gelu_tanh(x, out);
  test_ops::expect_close(out.values, ref, 1e-5, 1e-6, "gelu into a separate LinearInput");
  ops::LinearInput in_place{LinearInputSpec{}, x, Tensor()};
  ops::gelu_tanh(x, in_place);
  EXPECT_EQ(std::memcmp(x.raw(), out.values.raw(), x.nbytes()), 0);
}

TEST(LinearInput, CpuRejectsFormsTheCpuLinearDoesNotConsume) {
  Rand r(13);
  Tensor x = test_ops::uniform_f32({2, 8}, r);
  LinearInputSpec s;
  s.form = LinearInputForm::Int8PerToken;
  s.qmin = -128;
  s.qmax = 127;
  ops::LinearInput in = ops::empty_linear_input(s, 2, 8, Device::CPU);
  try {
    ops::layernorm(x, Tensor(), Tensor(), nullptr, 1e-6f, in);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Internal);
    EXPECT_NE(std::string(e.what()).find("F32 form only"), std::string::npos) << e.what();
    EXPECT_NE(e.context().found.find("Int8PerToken[-128,127]"), std::string::npos);
  }
  EXPECT_THROW(ops::gelu_tanh(x, in), Error);
}

QuantLinear dynamic_layer(int64_t n, int64_t k, Rand& r) {
  QuantLinear w = layer_of(SchemeId::W8A8Dynamic);
  w.out_features = n;
  w.in_features = k;
  w.weight = Tensor::empty({n, k}, DType::I8);
  for (int64_t i = 0; i < n * k; ++i) w.weight.data<int8_t>()[i] = static_cast<int8_t>(r.integer(-127, 127));
  w.weight_scale = test_ops::uniform_f32({n}, r, 0.001, 0.01);
  w.bias = test_ops::uniform_f32({n}, r, -1, 1);
  return w;
}

TEST(LinearInput, CpuLinearOnAProducedInputEqualsTheF32Path) {
  Rand r(14);
  const int64_t t = 9, n = 24, k = 64;
  QuantLinear w = dynamic_layer(n, k, r);
  Tensor x = test_ops::uniform_f32({t, k}, r, -2, 2);
  Tensor y_ref = test_ops::poisoned_f32({t, n}), y = test_ops::poisoned_f32({t, n});
  ops::linear(x, w, y_ref, Precision::FP32);
  ops::LinearInput in{ops::linear_input_spec(w, Precision::FP32, Device::CPU), x, Tensor()};
  ops::linear(in, w, y, Precision::FP32);
  EXPECT_EQ(std::memcmp(y.raw(), y_ref.raw(), y.nbytes()), 0);
  // And the scheme's formula in float64 on the per-token quantization written here.
  std::vector<double> ref(static_cast<size_t>(t * n));
  for (int64_t i = 0; i < t; ++i) {
    float m = 0;
    for (int64_t c = 0; c < k; ++c) m = std::max(m, std::fabs(x.data<float>()[i * k + c]));
    const float st = std::max(m / 127.0f, FLT_EPSILON);
    for (int64_t o = 0; o < n; ++o) {
      int64_t acc = 0;
      for (int64_t c = 0; c < k; ++c)
        acc += static_cast<int64_t>(std::nearbyint(x.data<float>()[i * k + c] / st)) * w.weight.data<int8_t>()[o * k + c];
      ref[i * n + o] = double(acc) * w.weight_scale.data<float>()[o] * st + w.bias.data<float>()[o];
    }
  }
  test_ops::expect_close(y, ref, 1e-5, 1e-5, "dynamic linear on a LinearInput");
}

TEST(LinearInput, WrongFormIsAnInternalErrorNamingTheLayerAndBothForms) {
  Rand r(15);
  QuantLinear w = dynamic_layer(8, 16, r);
  LinearInputSpec s;
  s.form = LinearInputForm::BF16;
  ops::LinearInput in = ops::empty_linear_input(s, 3, 16, Device::CPU);
  Tensor y = Tensor::empty({3, 8}, DType::F32);
  try {
    ops::linear(in, w, y, Precision::FP32);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Internal);
    EXPECT_EQ(e.context().layer, "blocks.0.attn1.to_q");
    EXPECT_EQ(e.context().scheme, "W8A8_DYNAMIC");
    EXPECT_EQ(e.context().expected, "F32");
    EXPECT_EQ(e.context().found, "BF16");
  }
}

TEST(LinearInput, MalformedInputsAreInternalErrors) {
  Rand r(16);
  QuantLinear w = dynamic_layer(8, 16, r);
  Tensor y = Tensor::empty({3, 8}, DType::F32);
  ops::LinearInput wrong_width = ops::empty_linear_input(LinearInputSpec{}, 3, 12, Device::CPU);
  EXPECT_THROW(ops::linear(wrong_width, w, y, Precision::FP32), Error);
  LinearInputSpec s;
  s.form = LinearInputForm::Int8PerToken;
  s.qmin = -128;
  s.qmax = 127;
  ops::LinearInput no_scale = ops::empty_linear_input(s, 3, 16, Device::CPU);
  no_scale.token_scale = Tensor();
  Tensor x = test_ops::uniform_f32({3, 16}, r);
  EXPECT_THROW(ops::layernorm(x, Tensor(), Tensor(), nullptr, 1e-6f, no_scale), Error);
  ops::LinearInput rows = ops::empty_linear_input(LinearInputSpec{}, 4, 16, Device::CPU);
  EXPECT_THROW(ops::layernorm(x, Tensor(), Tensor(), nullptr, 1e-6f, rows), Error);
}

}  // namespace
}  // namespace qdit
