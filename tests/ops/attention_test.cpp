// attention against softmax(q k^T * scale) v evaluated in float64, per head.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "ops/attention_ref.h"
#include "ops_test_util.h"
#include "qdit/core/error.h"
#include "qdit/core/half.h"
#include "qdit/ops/ops.h"

namespace qdit {
namespace {

using test_ops::Rand;

// The float64 reference of tests/ops/attention_ref.h on the tensors' values (rounded to bf16 when `bf16`).
std::vector<double> reference(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, double scale,
                              bool bf16) {
  auto values = [bf16](const Tensor& t) {
    std::vector<double> out(static_cast<size_t>(t.numel()));
    for (int64_t i = 0; i < t.numel(); ++i) {
      const float f = t.data<float>()[i];
      out[i] = bf16 ? round_to_bf16(f) : f;
    }
    return out;
  };
  const int64_t lq = q.dim(0);
  return test::attention_ref(values(q), values(k), values(v), lq, k.dim(0), heads, q.dim(1) / heads, scale,
                             test::all_rows(lq));
}

void check(int64_t lq, int64_t lk, int64_t heads, int64_t hd, double range, ops::Precision p) {
  Rand r(static_cast<uint64_t>(lq * 100003 + lk * 101 + heads * 7 + hd));
  Tensor q = test_ops::uniform_f32({lq, heads * hd}, r, -range, range);
  Tensor k = test_ops::uniform_f32({lk, heads * hd}, r, -range, range);
  Tensor v = test_ops::uniform_f32({lk, heads * hd}, r, -1, 1);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const std::vector<double> expected = reference(q, k, v, heads, scale, p == ops::Precision::BF16);
  Tensor out = test_ops::poisoned_f32({lq, heads * hd});
  ops::attention(q, k, v, heads, scale, out, p);
  // |v| <= 1; the fp32 logits carry ~hd * 2^-24 * range^2 of error, which the softmax passes on to the output.
  const double atol = 2e-6 + 1e-7 * static_cast<double>(hd) * range * range * scale;
  test_ops::expect_close(out, expected, 0.0, atol,
                         "Lq=" + std::to_string(lq) + " Lk=" + std::to_string(lk) + " heads=" + std::to_string(heads) +
                             " hd=" + std::to_string(hd) + " range=" + std::to_string(range));
}

TEST(Attention, MatchesFloat64Softmax) {
  test_ops::for_each_cpu_path([] {
    for (int64_t hd : {8, 16, 24, 64, 128})
      for (auto [lq, lk] : {std::pair<int64_t, int64_t>{1, 1}, {37, 512}, {70, 65}, {130, 200}})
        check(lq, lk, hd == 128 ? 2 : 3, hd, 1.0, ops::Precision::FP32);
  });
}

TEST(Attention, SharpSoftmaxAndLargeLogits) {
  // Logits up to ~hd * 64 * scale: exp overflows unless every tile subtracts the running max.
  test_ops::for_each_cpu_path([] {
    check(65, 130, 2, 64, 8.0, ops::Precision::FP32);
    check(3, 300, 1, 16, 30.0, ops::Precision::FP32);
  });
}

TEST(Attention, HeadDimsAbove128) { check(20, 70, 2, 160, 1.0, ops::Precision::FP32); }

TEST(Attention, Bf16RoundsInputsOnly) {
  // The reference rounds q, k, v to bf16 and computes in float64: only fp32 accumulation error remains.
  test_ops::for_each_cpu_path([] {
    check(37, 200, 2, 64, 1.0, ops::Precision::BF16);
    check(5, 7, 1, 8, 1.0, ops::Precision::BF16);
  });
}

// Int8 q.k^T is a CUDA kernel (ops/cuda/attention_int8.h): asking the CPU for it is a usage error naming what the
// kernel needs, never a silent run at another precision.
TEST(Attention, Int8QkRefusedOnTheCpu) {
  test_ops::Rand r(5);
  const Tensor q = test_ops::uniform_f32({4, 256}, r), k = test_ops::uniform_f32({6, 256}, r),
               v = test_ops::uniform_f32({6, 256}, r);
  Tensor out = test_ops::poisoned_f32({4, 256});
  for (ops::Precision p : {ops::Precision::BF16, ops::Precision::FP32}) {
    try {
      ops::attention(q, k, v, 2, 0.1f, out, p, ops::AttentionQk::Int8);
      ADD_FAILURE() << "int8 q.k^T ran on the CPU";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Usage);
      EXPECT_NE(std::string(e.what()).find("CUDA, BF16, head_dim 128"), std::string::npos) << e.what();
    }
  }
}

TEST(Attention, LongSequenceRowsMatchFloat64) {
  // Self-attention over 20,000 tokens (one head of 8 keeps it quick); a few query rows checked against float64.
  const int64_t l = 20000, hd = 8;
  Rand r(31);
  Tensor q = test_ops::uniform_f32({l, hd}, r, -2, 2), k = test_ops::uniform_f32({l, hd}, r, -2, 2);
  Tensor v = test_ops::uniform_f32({l, hd}, r, -1, 1);
  Tensor out = test_ops::poisoned_f32({l, hd});
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  ops::attention(q, k, v, 1, scale, out, ops::Precision::FP32);
  for (int64_t i : {int64_t{0}, int64_t{59}, int64_t{60}, int64_t{12345}, l - 1}) {
    std::vector<double> s(static_cast<size_t>(l));
    double mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j < l; ++j) {
      double dot = 0;
      for (int64_t d = 0; d < hd; ++d) dot += double{q.data<float>()[i * hd + d]} * k.data<float>()[j * hd + d];
      s[j] = dot * scale;
      mx = std::max(mx, s[j]);
    }
    for (int64_t j = 0; j < l; ++j) sum += (s[j] = std::exp(s[j] - mx));
    for (int64_t d = 0; d < hd; ++d) {
      double o = 0;
      for (int64_t j = 0; j < l; ++j) o += s[j] * v.data<float>()[j * hd + d];
      EXPECT_NEAR(out.data<float>()[i * hd + d], o / sum, 2e-6) << "row " << i << " feature " << d;
    }
  }
}

TEST(Attention, UniformKeysAverageValues) {
  // Identical keys: every weight is 1/Lk, so the output is the plain mean of v (here 2).
  const int64_t lk = 100;
  Tensor q = test_ops::f32_tensor({1, 8}, {1, 2, 3, 4, 5, 6, 7, 8});
  Tensor k = Tensor::empty({lk, 8}, DType::F32), v = Tensor::empty({lk, 8}, DType::F32);
  for (int64_t i = 0; i < lk * 8; ++i) {
    k.data<float>()[i] = 0.5f;
    v.data<float>()[i] = (i / 8) % 2 == 0 ? 1.0f : 3.0f;
  }
  Tensor out = test_ops::poisoned_f32({1, 8});
  ops::attention(q, k, v, 1, 0.3f, out, ops::Precision::FP32);
  for (int d = 0; d < 8; ++d) EXPECT_NEAR(out.data<float>()[d], 2.0, 1e-6);
}

TEST(Attention, RejectsMalformedArguments) {
  Tensor q = Tensor::zeros({4, 16}, DType::F32), k = Tensor::zeros({5, 16}, DType::F32);
  Tensor v = Tensor::zeros({5, 16}, DType::F32), out = Tensor::zeros({4, 16}, DType::F32);
  EXPECT_THROW(ops::attention(q, k, v, 3, 1.0f, out, ops::Precision::FP32), Error);  // 16 not divisible by 3
  Tensor v_short = Tensor::zeros({4, 16}, DType::F32);
  EXPECT_THROW(ops::attention(q, k, v_short, 2, 1.0f, out, ops::Precision::FP32), Error);
  Tensor no_keys = Tensor::zeros({0, 16}, DType::F32);
  EXPECT_THROW(ops::attention(q, no_keys, no_keys, 2, 1.0f, out, ops::Precision::FP32), Error);
}

}  // namespace
}  // namespace qdit
