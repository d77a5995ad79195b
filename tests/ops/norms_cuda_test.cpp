// LayerNorm (plain, modulated with one and several token groups, affine) and RMSNorm on the GPU, against a
// float64 reference written here and against the CPU implementation.
#include <gtest/gtest.h>

#include "ops/cuda_test_util.h"
#include "ops/layernorm_ref.h"
#include "util/test_util.h"

namespace qdit::test {
namespace {

void check_layernorm(int64_t t, int64_t d, int mode, int64_t groups, uint64_t seed) {
  SCOPED_TRACE("T=" + std::to_string(t) + " D=" + std::to_string(d) + " mode=" + std::to_string(mode) +
               " groups=" + std::to_string(groups));
  GpuScratch scratch;
  const auto [x, a, b, ref] = random_layernorm_case(t, d, mode, groups, seed);
  ops::Modulation mod;

  Tensor xd = to_gpu(x), outd = poisoned_gpu({t, d}, DType::F32);
  Tensor none;
  if (mode == 1) {
    mod.shift = to_gpu(a);
    mod.scale = to_gpu(b);
    ops::layernorm(xd, none, none, &mod, 1e-6f, outd);
  } else if (mode == 2) {
    ops::layernorm(xd, to_gpu(a), to_gpu(b), nullptr, 1e-6f, outd);
  } else {
    ops::layernorm(xd, none, none, nullptr, 1e-6f, outd);
  }
  Tensor got = to_cpu(outd);
  EXPECT_LT(rel_l2(got, ref), 2e-6);

  Tensor cpu_out = Tensor::empty({t, d}, DType::F32);
  ops::Modulation cmod{a, b};
  if (mode == 1)
    ops::layernorm(x, none, none, &cmod, 1e-6f, cpu_out);
  else if (mode == 2)
    ops::layernorm(x, a, b, nullptr, 1e-6f, cpu_out);
  else
    ops::layernorm(x, none, none, nullptr, 1e-6f, cpu_out);
  EXPECT_LT(rel_l2(got, cpu_out), 2e-6);
}

TEST(NormsCuda, LayerNormPlain) {
  QDIT_REQUIRE_GPU();
  check_layernorm(37, 1536, 0, 1, 1);
  check_layernorm(5, 33, 0, 1, 2);  // width not a multiple of the block: tail threads idle
}

TEST(NormsCuda, LayerNormModulatedOneAndSeveralGroups) {
  QDIT_REQUIRE_GPU();
  check_layernorm(24, 640, 1, 1, 3);
  check_layernorm(24, 640, 1, 3, 4);   // per-frame modulation: 8 tokens per group
  check_layernorm(24, 640, 1, 24, 5);  // per-token modulation
}

TEST(NormsCuda, LayerNormAffine) {
  QDIT_REQUIRE_GPU();
  check_layernorm(19, 1280, 2, 1, 6);
}

TEST(NormsCuda, LayerNormRejectsGroupsThatDoNotDivideTokens) {
  QDIT_REQUIRE_GPU();
  GpuScratch scratch;
  Rng rng(7);
  Tensor x = to_gpu(random_normal_f32({10, 16}, rng));
  Tensor out = ops::empty({10, 16}, DType::F32, Device::CUDA);
  ops::Modulation mod{to_gpu(random_normal_f32({3, 16}, rng)), to_gpu(random_normal_f32({3, 16}, rng))};
  EXPECT_THROW(ops::layernorm(x, Tensor(), Tensor(), &mod, 1e-6f, out), Error);
}

// The row-group kernels at Wan widths, with token counts that leave spare row groups in the last block (1536:
// four rows a block; 3072: two), an odd group width, and a row wider than the groups take (one block per row).
TEST(NormsCuda, LayerNormRowGroupWidthsAndSpareRows) {
  QDIT_REQUIRE_GPU();
  check_layernorm(9, 1536, 1, 3, 11);
  check_layernorm(5, 3072, 2, 1, 12);
  check_layernorm(3, 5120, 1, 3, 13);
  check_layernorm(7, 8960, 0, 1, 14);
  check_layernorm(5, 20, 0, 1, 15);      // narrower than one warp's float4
  check_layernorm(2, 28672, 1, 2, 16);   // past the row groups: one block per row, staged
}

TEST(NormsCuda, RmsNormOverTheFullRow) {
  QDIT_REQUIRE_GPU();
  for (auto [t, d] : {std::pair<int64_t, int64_t>{29, 5120}, {3, 100}}) {
    GpuScratch scratch;
    Rng rng(8 + d);
    Tensor x = random_normal_f32({t, d}, rng, 0.0, 2.0);
    Tensor w = random_normal_f32({d}, rng, 1.0, 0.2);
    std::vector<double> ref(static_cast<size_t>(t * d));
    for (int64_t r = 0; r < t; ++r) {
      double ms = 0;
      for (int64_t i = 0; i < d; ++i) ms += double(x.data<float>()[r * d + i]) * x.data<float>()[r * d + i];
      ms /= d;
      for (int64_t i = 0; i < d; ++i)
        ref[r * d + i] = x.data<float>()[r * d + i] / std::sqrt(ms + 1e-6) * w.data<float>()[i];
    }
    Tensor xd = to_gpu(x);
    ops::rmsnorm(xd, to_gpu(w), 1e-6f);
    Tensor got = to_cpu(xd);
    EXPECT_LT(rel_l2(got, ref), 2e-6) << "D=" << d;
    Tensor xc = x.clone();
    ops::rmsnorm(xc, w, 1e-6f);
    EXPECT_LT(rel_l2(got, xc), 2e-6) << "D=" << d;
  }
}

}  // namespace
}  // namespace qdit::test
