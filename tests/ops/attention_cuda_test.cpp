// ops::attention on the GPU against a float64 softmax(q k^T * scale) v written here (on bf16-rounded inputs for
// the BF16 precision, whose kernels also round P to bf16 before the second product) and against the CPU.
// Shapes cover the tensor-core kernel (head_dim 128 and 64), the fp32 kernel (FP32 precision, other head_dim),
// key/query counts that are not multiples of the tiles, Wan's 512-key cross-attention and one full 32760-token
// self-attention head checked on sampled rows.
#include <gtest/gtest.h>

#include "ops/cuda_test_util.h"
#include "util/test_util.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/internal.h"
#endif

namespace qdit::test {
namespace {

// Reference for the query rows in `rows` (all rows when empty); returns [rows.size(), heads*hd] row-major.
std::vector<double> attention_ref(const std::vector<double>& q, const std::vector<double>& k,
                                  const std::vector<double>& v, int64_t lq, int64_t lk, int64_t heads, int64_t hd,
                                  double scale, const std::vector<int64_t>& rows) {
  int64_t w = heads * hd;
  std::vector<double> out(rows.size() * w), s(static_cast<size_t>(lk));
  for (size_t ri = 0; ri < rows.size(); ++ri) {
    int64_t r = rows[ri];
    for (int64_t h = 0; h < heads; ++h) {
      double mx = -INFINITY;
      for (int64_t j = 0; j < lk; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < hd; ++d) dot += q[r * w + h * hd + d] * k[j * w + h * hd + d];
        s[j] = dot * scale;
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < lk; ++j) sum += (s[j] = std::exp(s[j] - mx));
      for (int64_t d = 0; d < hd; ++d) {
        double acc = 0;
        for (int64_t j = 0; j < lk; ++j) acc += s[j] * v[j * w + h * hd + d];
        out[ri * w + h * hd + d] = acc / sum;
      }
    }
  }
  return out;
}

std::vector<int64_t> all_rows(int64_t n) {
  std::vector<int64_t> r(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) r[i] = i;
  return r;
}

void check_attention(int64_t lq, int64_t lk, int64_t heads, int64_t hd, ops::Precision p, bool compare_cpu,
                     double tol_ref, uint64_t seed, int flash_warps = 0) {
  bool b16 = p == ops::Precision::BF16;
  SCOPED_TRACE("Lq=" + std::to_string(lq) + " Lk=" + std::to_string(lk) + " heads=" + std::to_string(heads) +
               " hd=" + std::to_string(hd) + (b16 ? " BF16" : " FP32"));
  GpuScratch scratch;
  Rng rng(seed);
  // Scaled like post-RMSNorm q/k: logits spread over several units, so the softmax is neither flat nor one-hot.
  Tensor q = random_normal_f32({lq, heads * hd}, rng, 0.0, 1.0), k = random_normal_f32({lk, heads * hd}, rng, 0.0, 1.0),
         v = random_normal_f32({lk, heads * hd}, rng);
  float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  auto pick = [&](const Tensor& t) { return b16 ? bf16_rounded(t) : as_doubles(t); };
  std::vector<double> ref = attention_ref(pick(q), pick(k), pick(v), lq, lk, heads, hd, scale, all_rows(lq));

  Tensor out = poisoned_gpu({lq, heads * hd}, DType::F32);
#ifdef QDIT_WITH_CUDA
  if (flash_warps)
    ops::cuda::attention_variant(to_gpu(q), to_gpu(k), to_gpu(v), heads, scale, out, p, flash_warps);
  else
#endif
    ops::attention(to_gpu(q), to_gpu(k), to_gpu(v), heads, scale, out, p);
  Tensor got = to_cpu(out);
  EXPECT_LT(rel_l2(got, ref), tol_ref);
  if (compare_cpu) {
    Tensor cpu_out = Tensor::empty({lq, heads * hd}, DType::F32);
    ops::attention(q, k, v, heads, scale, cpu_out, p);
    EXPECT_LT(rel_l2(got, cpu_out), b16 ? 1e-2 : 1e-5);
  }
}

TEST(AttentionCuda, Bf16TensorCoreKernelHeadDim128) {
  QDIT_REQUIRE_GPU();
  // P is rounded to bf16 before P.V (as in FlashAttention); that alone costs ~2e-3 against the fp64 reference.
  check_attention(150, 130, 2, 128, ops::Precision::BF16, true, 1e-2, 1);
  check_attention(64, 64, 1, 128, ops::Precision::BF16, true, 1e-2, 2);
  check_attention(1, 1, 3, 128, ops::Precision::BF16, true, 1e-2, 3);
}

TEST(AttentionCuda, Bf16TensorCoreKernelHeadDim64) {
  QDIT_REQUIRE_GPU();
  check_attention(97, 200, 3, 64, ops::Precision::BF16, true, 1e-2, 4);
}

TEST(AttentionCuda, Bf16TensorCoreKernelBothBlockSizes) {
  QDIT_REQUIRE_GPU();
  for (int warps : {4, 8}) {
    SCOPED_TRACE("warps=" + std::to_string(warps));
    check_attention(300, 130, 2, 128, ops::Precision::BF16, false, 1e-2, 12, warps);
    check_attention(77, 512, 2, 64, ops::Precision::BF16, false, 1e-2, 13, warps);
  }
}

TEST(AttentionCuda, CrossAttentionWith512Keys) {
  QDIT_REQUIRE_GPU();
  check_attention(300, 512, 2, 128, ops::Precision::BF16, true, 1e-2, 5);
  check_attention(70, 512, 2, 128, ops::Precision::FP32, true, 1e-5, 6);
}

TEST(AttentionCuda, Fp32KernelIsFp32Accurate) {
  QDIT_REQUIRE_GPU();
  check_attention(45, 77, 2, 128, ops::Precision::FP32, true, 1e-5, 7);
  check_attention(33, 40, 4, 32, ops::Precision::FP32, true, 1e-5, 8);
  check_attention(9, 100, 1, 256, ops::Precision::FP32, true, 1e-5, 9);
}

TEST(AttentionCuda, Bf16OtherHeadDimUsesRoundedInputs) {
  QDIT_REQUIRE_GPU();
  // No bf16 tensor-core kernel for head_dim 32: the fp32 kernel on bf16-rounded inputs computes the same function
  // (more exactly: P is not rounded), so it lands much closer to the rounded-input reference.
  check_attention(50, 60, 2, 32, ops::Precision::BF16, true, 1e-5, 10);
}

TEST(AttentionCuda, LargeSelfAttention32760Tokens) {
  QDIT_REQUIRE_GPU();
  GpuScratch scratch;
  int64_t l = 32760, heads = 1, hd = 128;
  Rng rng(11);
  Tensor q = random_normal_f32({l, hd}, rng), k = random_normal_f32({l, hd}, rng), v = random_normal_f32({l, hd}, rng);
  float scale = 1.0f / std::sqrt(128.0f);
  Tensor out = poisoned_gpu({l, hd}, DType::F32);
  ops::attention(to_gpu(q), to_gpu(k), to_gpu(v), heads, scale, out, ops::Precision::BF16);
  Tensor got = to_cpu(out);
  for (int64_t i = 0; i < got.numel(); ++i) ASSERT_TRUE(std::isfinite(got.data<float>()[i])) << "element " << i;
  std::vector<int64_t> rows = {0, 1, 63, 64, 4095, 16383, 20000, 32704, 32759};
  std::vector<double> ref = attention_ref(bf16_rounded(q), bf16_rounded(k), bf16_rounded(v), l, l, heads, hd, scale, rows);
  std::vector<double> sampled;
  for (int64_t r : rows)
    for (int64_t d = 0; d < hd; ++d) sampled.push_back(got.data<float>()[r * hd + d]);
  EXPECT_LT(rel_l2(sampled, ref), 1e-2);
}

}  // namespace
}  // namespace qdit::test
