// ops::linear for every scheme against a plainly written float64 evaluation of the ModelSlim arithmetic
// (modelslim-format.md §3): activation codes computed here with the fp32 formula of the contract, integer sums
// in int64, epilogues in float64. Runs every available int8 kernel.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>

#include "ops_test_util.h"
#include "qdit/core/error.h"
#include "qdit/core/half.h"
#include "qdit/ops/cpu/int8_gemm.h"
#include "qdit/ops/op_args.h"
#include "qdit/ops/ops.h"

namespace qdit {
namespace {

using ops::Precision;
using ops::cpu::Int8Kernel;
using test_ops::Rand;

std::vector<Int8Kernel> int8_kernels() {
  std::vector<Int8Kernel> out;
  for (Int8Kernel k : {Int8Kernel::Scalar, Int8Kernel::Vnni, Int8Kernel::Amx, Int8Kernel::OneDnn})
    if (ops::cpu::int8_kernel_available(k)) out.push_back(k);
  return out;
}

// Restores the default kernel choice when a test ends, even on failure.
struct KernelChoice {
  explicit KernelChoice(Int8Kernel k) { ops::cpu::set_int8_kernel(k); }
  ~KernelChoice() { ops::cpu::set_int8_kernel(std::nullopt); }
};

Tensor f32_vector(int64_t n, Rand& r, double lo, double hi) { return test_ops::uniform_f32({n}, r, lo, hi); }

Tensor i8_matrix(int64_t n, int64_t k, Rand& r, int lo, int hi) {
  Tensor w = Tensor::empty({n, k}, DType::I8);
  for (int64_t i = 0; i < n * k; ++i) w.data<int8_t>()[i] = static_cast<int8_t>(r.integer(lo, hi));
  return w;
}

QuantLinear make_layer(SchemeId scheme, int64_t n, int64_t k, Rand& r, bool bias, DType float_dtype = DType::F32) {
  QuantLinear l;
  l.scheme = scheme;
  l.out_features = n;
  l.in_features = k;
  l.name = "blocks.0.test_layer";
  switch (scheme) {
    case SchemeId::Float: {
      Tensor w = test_ops::uniform_f32({n, k}, r, -1, 1);
      if (float_dtype == DType::F32) {
        l.weight = w;
      } else {
        l.weight = Tensor::empty({n, k}, float_dtype);
        for (int64_t i = 0; i < n * k; ++i)
          l.weight.data<uint16_t>()[i] =
              float_dtype == DType::BF16 ? f32_to_bf16(w.data<float>()[i]) : f32_to_f16(w.data<float>()[i]);
      }
      break;
    }
    case SchemeId::W8A8:
      l.weight = i8_matrix(n, k, r, -128, 127);
      l.input_scale = static_cast<float>(r.uniform(0.01, 0.03));
      l.input_offset = static_cast<float>(r.integer(-10, 10));
      l.deq_scale = f32_vector(n, r, 1e-5, 1e-4);
      l.quant_bias = Tensor::empty({n}, DType::I32);
      for (int64_t i = 0; i < n; ++i) l.quant_bias.data<int32_t>()[i] = static_cast<int32_t>(r.integer(-5000, 5000));
      bias = false;  // folded into quant_bias
      break;
    case SchemeId::W8A8Dynamic:
    case SchemeId::W4A8Dynamic:
      l.weight = i8_matrix(n, k, r, scheme == SchemeId::W4A8Dynamic ? -8 : -128, scheme == SchemeId::W4A8Dynamic ? 7 : 127);
      l.weight_scale = f32_vector(n, r, 1e-3, 1e-2);
      break;
    case SchemeId::W4A4Dynamic:
      l.weight = i8_matrix(n, k, r, -8, 7);
      l.weight_scale = f32_vector(n, r, 1e-2, 1e-1);
      break;
    case SchemeId::W8A16:
      l.weight = i8_matrix(n, k, r, -128, 127);
      l.weight_scale = f32_vector(n, r, 1e-3, 1e-2);
      l.weight_offset = f32_vector(n, r, -3, 3);
      break;
  }
  if (bias) l.bias = f32_vector(n, r, -1, 1);
  return l;
}

int clamp_round(float v, int lo, int hi) {
  return static_cast<int>(std::min(static_cast<float>(hi), std::max(static_cast<float>(lo), std::nearbyint(v))));
}

// The reference output and, per element, the magnitude its error is measured against.
struct Reference {
  std::vector<double> y, magnitude;
  double rtol;
};

Reference reference(const Tensor& x, const QuantLinear& l, Precision p) {
  const int64_t t = x.dim(0), n = l.out_features, k = l.in_features;
  const float* xp = x.data<float>();
  Reference ref;
  ref.y.assign(static_cast<size_t>(t * n), 0.0);
  ref.magnitude.assign(ref.y.size(), 0.0);
  auto b = [&](int64_t c) { return l.bias.defined() ? static_cast<double>(l.bias.data<float>()[c]) : 0.0; };
  if (l.scheme == SchemeId::Float || l.scheme == SchemeId::W8A16) {
    const bool bf16 = p == Precision::BF16;
    // The weight the GEMM multiplies by: as stored (exact upcast), or ((float)q - z) * s in fp32 for W8A16.
    auto w = [&](int64_t c, int64_t i) {
      float v;
      if (l.scheme == SchemeId::W8A16) {
        const float z = l.weight_offset.defined() ? l.weight_offset.data<float>()[c] : 0.0f;
        v = (static_cast<float>(l.weight.data<int8_t>()[c * k + i]) - z) * l.weight_scale.data<float>()[c];
      } else {
        v = static_cast<float>(element_as_double(l.weight, c * k + i));
      }
      return static_cast<double>(bf16 ? round_to_bf16(v) : v);
    };
    for (int64_t r = 0; r < t; ++r)
      for (int64_t c = 0; c < n; ++c) {
        double s = 0, mag = 0;
        for (int64_t i = 0; i < k; ++i) {
          const double xv = bf16 ? round_to_bf16(xp[r * k + i]) : xp[r * k + i];
          s += xv * w(c, i);
          mag += std::fabs(xv * w(c, i));
        }
        ref.y[r * n + c] = s + b(c);
        ref.magnitude[r * n + c] = mag + std::fabs(b(c));
      }
    // A K-term fp32 dot product in any order is within K * 2^-24 of the sum of magnitudes (plus the bias sum).
    ref.rtol = static_cast<double>(k + 2) * 0x1.0p-24;
    return ref;
  }
  // Quantized activations, exactly as the contract states them in fp32.
  std::vector<int> codes(static_cast<size_t>(t * k));
  std::vector<float> st(static_cast<size_t>(t), 1.0f);
  for (int64_t r = 0; r < t; ++r) {
    const float* row = xp + r * k;
    if (l.scheme == SchemeId::W8A8) {
      for (int64_t i = 0; i < k; ++i) codes[r * k + i] = clamp_round(row[i] / l.input_scale + l.input_offset, -128, 127);
      continue;
    }
    float mx = 0;
    for (int64_t i = 0; i < k; ++i) mx = std::max(mx, std::fabs(row[i]));
    st[r] = std::max(mx / static_cast<float>(l.act_qmax()), FLT_EPSILON);
    for (int64_t i = 0; i < k; ++i) codes[r * k + i] = clamp_round(row[i] / st[r], l.act_qmin(), l.act_qmax());
  }
  for (int64_t r = 0; r < t; ++r)
    for (int64_t c = 0; c < n; ++c) {
      int64_t acc = 0;
      for (int64_t i = 0; i < k; ++i) acc += int64_t{codes[r * k + i]} * l.weight.data<int8_t>()[c * k + i];
      double v;
      if (l.scheme == SchemeId::W8A8) {
        v = static_cast<double>(acc + l.quant_bias.data<int32_t>()[c]) * l.deq_scale.data<float>()[c];
        ref.y[r * n + c] = v;
        ref.magnitude[r * n + c] = std::fabs(v);
      } else {
        v = static_cast<double>(acc) * l.weight_scale.data<float>()[c] * st[r];
        ref.y[r * n + c] = v + b(c);
        ref.magnitude[r * n + c] = std::fabs(v) + std::fabs(b(c));
      }
    }
  ref.rtol = 1e-6;
  return ref;
}

void check(const QuantLinear& l, int64_t t, Precision p, Rand& r, const std::string& what) {
  Tensor x = test_ops::uniform_f32({t, l.in_features}, r, -2, 2);
  const Reference ref = reference(x, l, p);
  Tensor y = test_ops::poisoned_f32({t, l.out_features});
  ops::linear(x, l, y, p);
  test_ops::expect_close(y, ref.y, ref.rtol, 0.0, what, &ref.magnitude);
}

std::string describe(SchemeId s, int64_t t, int64_t n, int64_t k) {
  return std::string(scheme_name(s)) + " T=" + std::to_string(t) + " N=" + std::to_string(n) +
         " K=" + std::to_string(k);
}

TEST(Linear, QuantizedSchemesMatchFloat64) {
  Rand r(21);
  for (Int8Kernel kernel : int8_kernels()) {
    KernelChoice choice(kernel);
    SCOPED_TRACE(ops::cpu::int8_kernel_name(kernel));
    test_ops::for_each_cpu_path([&] {
      for (SchemeId s : {SchemeId::W8A8, SchemeId::W8A8Dynamic, SchemeId::W4A4Dynamic, SchemeId::W4A8Dynamic})
        for (int64_t k : {1, 7, 63, 65, 200})
          for (int64_t n : {1, 17, 64})
            for (int64_t t : {1, 37}) {
              const QuantLinear l = make_layer(s, n, k, r, (n + k) % 2 == 0);
              check(l, t, Precision::FP32, r, describe(s, t, n, k));
              // Integer schemes ignore the precision mode.
              check(l, t, Precision::BF16, r, describe(s, t, n, k) + " bf16");
            }
    });
  }
}

TEST(Linear, FloatAndW8A16MatchFloat64) {
  Rand r(22);
  for (Precision p : {Precision::FP32, Precision::BF16})
    for (int64_t k : {1, 7, 63, 65, 200})
      for (int64_t n : {1, 17, 64})
        for (int64_t t : {1, 37}) {
          const std::string mode = p == Precision::BF16 ? " bf16" : " fp32";
          for (DType d : {DType::F32, DType::BF16, DType::F16})
            check(make_layer(SchemeId::Float, n, k, r, t == 37, d), t, p, r,
                  describe(SchemeId::Float, t, n, k) + mode + " weights " + std::string(dtype_name(d)));
          QuantLinear w16 = make_layer(SchemeId::W8A16, n, k, r, t == 1);
          check(w16, t, p, r, describe(SchemeId::W8A16, t, n, k) + mode);
          w16.weight_offset = Tensor();  // symmetric: no offset
          check(w16, t, p, r, describe(SchemeId::W8A16, t, n, k) + mode + " no offset");
        }
}

TEST(Linear, StaticActivationTiesThroughTheLayer) {
  // Identity weights, scale 1, deq 1, no quant_bias: y is the activation codes themselves.
  for (Int8Kernel kernel : int8_kernels()) {
    KernelChoice choice(kernel);
    QuantLinear l;
    l.scheme = SchemeId::W8A8;
    l.out_features = l.in_features = 6;
    l.weight = Tensor::zeros({6, 6}, DType::I8);
    for (int i = 0; i < 6; ++i) l.weight.data<int8_t>()[i * 6 + i] = 1;
    l.input_scale = 1.0f;
    l.input_offset = 0.0f;
    l.deq_scale = test_ops::f32_tensor({6}, {1, 1, 1, 1, 1, 1});
    l.quant_bias = Tensor::zeros({6}, DType::I32);
    Tensor x = test_ops::f32_tensor({1, 6}, {2.5f, 3.5f, -2.5f, -3.5f, 300.0f, -300.0f});
    Tensor y = test_ops::poisoned_f32({1, 6});
    ops::linear(x, l, y, Precision::FP32);
    const float want[6] = {2, 4, -2, -4, 127, -128};
    for (int i = 0; i < 6; ++i) EXPECT_EQ(y.data<float>()[i], want[i]) << ops::cpu::int8_kernel_name(kernel);
  }
}

TEST(Linear, DynamicTiesAndTheEpsilonFloor) {
  // Identity weights, s_w = 1, bias 0.5: row 0 has max 127 so s_t = 1 and y = codes + 0.5; the all-zero row 1
  // quantizes with s_t = FLT_EPSILON to zero codes and gives exactly the bias.
  for (Int8Kernel kernel : int8_kernels()) {
    KernelChoice choice(kernel);
    QuantLinear l;
    l.scheme = SchemeId::W8A8Dynamic;
    l.out_features = l.in_features = 4;
    l.weight = Tensor::zeros({4, 4}, DType::I8);
    for (int i = 0; i < 4; ++i) l.weight.data<int8_t>()[i * 4 + i] = 1;
    l.weight_scale = test_ops::f32_tensor({4}, {1, 1, 1, 1});
    l.bias = test_ops::f32_tensor({4}, {0.5f, 0.5f, 0.5f, 0.5f});
    Tensor x = test_ops::f32_tensor({2, 4}, {127, 2.5f, 3.5f, -2.5f, 0, 0, 0, 0});
    Tensor y = test_ops::poisoned_f32({2, 4});
    ops::linear(x, l, y, Precision::FP32);
    const float want[8] = {127.5f, 2.5f, 4.5f, -1.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    for (int i = 0; i < 8; ++i) EXPECT_EQ(y.data<float>()[i], want[i]) << ops::cpu::int8_kernel_name(kernel);
  }
}

TEST(Linear, RowRangeViewsOfAFusedLayerArePreparedSeparately) {
  // A view of the first rows shares the weight's address with the whole layer; both must give their own result.
  Rand r(23);
  for (SchemeId s : {SchemeId::W8A8Dynamic, SchemeId::Float}) {
    const QuantLinear whole = make_layer(s, 48, 65, r, true);
    QuantLinear first = whole;
    first.out_features = 16;
    first.weight = Tensor::view(whole.weight.raw(), {16, 65}, whole.weight.dtype(), whole.weight.holder());
    first.bias = Tensor::view(whole.bias.raw(), {16}, DType::F32, whole.bias.holder());
    if (whole.weight_scale.defined())
      first.weight_scale = Tensor::view(whole.weight_scale.raw(), {16}, DType::F32, whole.weight_scale.holder());
    for (int round = 0; round < 2; ++round) {
      check(whole, 5, Precision::FP32, r, "whole");
      check(first, 5, Precision::FP32, r, "first rows");
    }
    ops::release_prepared_linears();
    check(first, 5, Precision::FP32, r, "first rows after release");
  }
}

TEST(Linear, ErrorsNameTheLayerAndScheme) {
  Rand r(24);
  auto expect_error = [](const QuantLinear& l, const Tensor& x, Tensor& y, ErrorKind kind, const char* needle) {
    try {
      ops::linear(x, l, y, Precision::FP32);
      ADD_FAILURE() << "expected an error mentioning " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), kind) << e.what();
      const std::string msg = e.what();
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
      EXPECT_NE(msg.find("blocks.0.test_layer"), std::string::npos) << msg;
    }
  };
  Tensor x = test_ops::uniform_f32({2, 8}, r), y = test_ops::poisoned_f32({2, 4});

  QuantLinear missing = make_layer(SchemeId::W8A8, 4, 8, r, false);
  missing.deq_scale = Tensor();
  expect_error(missing, x, y, ErrorKind::Internal, "deq_scale");

  QuantLinear double_bias = make_layer(SchemeId::W8A8, 4, 8, r, false);
  double_bias.bias = test_ops::uniform_f32({4}, r);
  expect_error(double_bias, x, y, ErrorKind::Internal, "W8A8");

  QuantLinear int4 = make_layer(SchemeId::W4A4Dynamic, 4, 8, r, false);
  int4.weight.data<int8_t>()[5] = 9;
  expect_error(int4, x, y, ErrorKind::Checkpoint, "W4A4_DYNAMIC");

  QuantLinear negative = make_layer(SchemeId::W8A8Dynamic, 4, 8, r, false);
  negative.weight_scale.data<float>()[2] = -1.0f;
  expect_error(negative, x, y, ErrorKind::Checkpoint, "weight_scale");

  QuantLinear zero_scale = make_layer(SchemeId::W8A8, 4, 8, r, false);
  zero_scale.input_scale = 0.0f;
  expect_error(zero_scale, x, y, ErrorKind::Checkpoint, "input_scale");

  QuantLinear offset = make_layer(SchemeId::W8A8Dynamic, 4, 8, r, false);
  offset.weight_offset = test_ops::f32_tensor({4}, {0, 0, 0.5f, 0});
  expect_error(offset, x, y, ErrorKind::Checkpoint, "weight_offset");

  QuantLinear ok = make_layer(SchemeId::W8A8Dynamic, 4, 8, r, false);
  Tensor narrow = test_ops::uniform_f32({2, 7}, r);
  EXPECT_THROW(ops::linear(narrow, ok, y, Precision::FP32), Error);
  Tensor wrong_y = test_ops::poisoned_f32({2, 5});
  EXPECT_THROW(ops::linear(x, ok, wrong_y, Precision::FP32), Error);
}

TEST(Linear, AllZeroWeightOffsetOfADynamicSchemeIsAccepted) {
  // ModelSlim writes weight_offset = 0 for the symmetric schemes; the result is the same as without it.
  Rand r(26);
  QuantLinear l = make_layer(SchemeId::W4A8Dynamic, 17, 65, r, true);
  l.weight_offset = Tensor::zeros({17}, DType::F32);
  check(l, 37, Precision::FP32, r, "W4A8_DYNAMIC with zero weight_offset");
}

TEST(Linear, ZeroTokensIsANoOp) {
  Rand r(25);
  const QuantLinear l = make_layer(SchemeId::W8A8Dynamic, 4, 8, r, true);
  Tensor x = Tensor::empty({0, 8}, DType::F32), y = Tensor::empty({0, 4}, DType::F32);
  EXPECT_NO_THROW(ops::linear(x, l, y, Precision::FP32));
}

}  // namespace
}  // namespace qdit
