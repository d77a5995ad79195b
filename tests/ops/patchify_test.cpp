// ops::patchify / unpatchify / expand_axis_table on the CPU against index formulas written out here element by
// element (pure data movement: exact equality), on shapes with uneven extents and patches of 1 and 2; argument
// errors; the CUDA versions against the CPU ones, bit for bit (skipped, visibly, without a GPU).
#include <gtest/gtest.h>

#include <cstring>

#include "ops/cuda_test_util.h"
#include "util/error_kind.h"
#include "util/test_util.h"

namespace qdit::test {
namespace {

struct Patch {
  int64_t C, f, h, w, pt, ph, pw;
};

// latent [C, f*pt, h*ph, w*pw] with distinct values (the flat index), so any misplaced element shows.
Tensor indexed_latent(const Patch& p) {
  Tensor x = Tensor::empty({p.C, p.f * p.pt, p.h * p.ph, p.w * p.pw}, DType::F32);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i);
  return x;
}

void expect_patchify(const Patch& p) {
  const Tensor x = indexed_latent(p);
  const int64_t K = p.C * p.pt * p.ph * p.pw, T = p.f * p.pt, H = p.h * p.ph, W = p.w * p.pw;
  Tensor out = Tensor::empty({p.f * p.h * p.w, K}, DType::F32);
  ops::patchify(x, p.pt, p.ph, p.pw, out);
  for (int64_t fi = 0; fi < p.f; ++fi)
    for (int64_t hi = 0; hi < p.h; ++hi)
      for (int64_t wi = 0; wi < p.w; ++wi)
        for (int64_t c = 0; c < p.C; ++c)
          for (int64_t kt = 0; kt < p.pt; ++kt)
            for (int64_t kh = 0; kh < p.ph; ++kh)
              for (int64_t kw = 0; kw < p.pw; ++kw) {
                const int64_t tok = (fi * p.h + hi) * p.w + wi, col = ((c * p.pt + kt) * p.ph + kh) * p.pw + kw;
                const int64_t src = ((c * T + fi * p.pt + kt) * H + hi * p.ph + kh) * W + wi * p.pw + kw;
                ASSERT_EQ(out.data<float>()[tok * K + col], static_cast<float>(src))
                    << "token " << tok << " column " << col;
              }
}

void expect_unpatchify(const Patch& p) {
  const int64_t P = p.C * p.pt * p.ph * p.pw, T = p.f * p.pt, H = p.h * p.ph, W = p.w * p.pw;
  Tensor tokens = Tensor::empty({p.f * p.h * p.w, P}, DType::F32);
  for (int64_t i = 0; i < tokens.numel(); ++i) tokens.data<float>()[i] = static_cast<float>(i);
  Tensor out = Tensor::empty({p.C, T, H, W}, DType::F32);
  ops::unpatchify(tokens, p.f, p.h, p.w, p.pt, p.ph, p.pw, out);
  for (int64_t c = 0; c < p.C; ++c)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          const int64_t tok = ((t / p.pt) * p.h + y / p.ph) * p.w + x / p.pw;
          const int64_t col = (((t % p.pt) * p.ph + y % p.ph) * p.pw + x % p.pw) * p.C + c;
          ASSERT_EQ(out.data<float>()[((c * T + t) * H + y) * W + x], static_cast<float>(tok * P + col))
              << "c " << c << " t " << t << " y " << y << " x " << x;
        }
}

TEST(Patchify, MatchesTheIndexFormula) {
  expect_patchify({16, 3, 5, 7, 1, 2, 2});  // Wan's patch
  expect_patchify({3, 2, 3, 4, 2, 1, 3});
  expect_patchify({1, 1, 1, 1, 1, 1, 1});
}

TEST(Unpatchify, MatchesTheIndexFormula) {
  expect_unpatchify({16, 3, 5, 7, 1, 2, 2});
  expect_unpatchify({3, 2, 3, 4, 2, 1, 3});
}

TEST(ExpandAxisTable, TakesEachColumnFromItsAxisRow) {
  const int64_t f = 3, h = 4, w = 5, n = 7, split_h = 2, split_w = 5;
  Tensor rows = Tensor::empty({f + h + w, n}, DType::F32);
  for (int64_t i = 0; i < rows.numel(); ++i) rows.data<float>()[i] = static_cast<float>(i) + 0.5f;
  Tensor out = Tensor::empty({f * h * w, n}, DType::F32);
  ops::expand_axis_table(rows, f, h, w, split_h, split_w, out);
  for (int64_t fi = 0; fi < f; ++fi)
    for (int64_t hi = 0; hi < h; ++hi)
      for (int64_t wi = 0; wi < w; ++wi)
        for (int64_t p = 0; p < n; ++p) {
          const int64_t r = p < split_h ? fi : p < split_w ? f + hi : f + h + wi;
          ASSERT_EQ(out.data<float>()[((fi * h + hi) * w + wi) * n + p], rows.data<float>()[r * n + p]);
        }
}

TEST(Patchify, BadArgumentsAreInternalErrors) {
  Tensor x = Tensor::zeros({2, 3, 4, 4}, DType::F32), out = Tensor::zeros({3 * 2 * 2, 8}, DType::F32);
  EXPECT_EQ(error_kind_of([&] { ops::patchify(x, 2, 2, 2, out); }), ErrorKind::Internal);  // T = 3 not whole
  EXPECT_EQ(error_kind_of([&] { ops::patchify(x, 1, 2, 0, out); }), ErrorKind::Internal);
  Tensor wrong = Tensor::zeros({12, 9}, DType::F32);
  EXPECT_EQ(error_kind_of([&] { ops::patchify(x, 1, 2, 2, wrong); }), ErrorKind::Internal);
  Tensor tokens = Tensor::zeros({12, 8}, DType::F32), video = Tensor::zeros({2, 3, 4, 4}, DType::F32);
  EXPECT_EQ(error_kind_of([&] { ops::unpatchify(tokens, 3, 2, 3, 1, 2, 2, video); }), ErrorKind::Internal);
  Tensor rows = Tensor::zeros({5, 4}, DType::F32), table = Tensor::zeros({6, 4}, DType::F32);
  EXPECT_EQ(error_kind_of([&] { ops::expand_axis_table(rows, 1, 2, 3, 3, 2, table); }), ErrorKind::Internal);
}

// The CUDA kernels against the CPU versions on a Wan-like grid (ragged extents, 16 channels).
TEST(PatchifyCuda, KernelsMatchTheCpuBitForBit) {
  QDIT_REQUIRE_GPU();
  Rng rng(5);
  const Patch p{16, 3, 7, 9, 1, 2, 2};
  const Tensor x = random_normal_f32({p.C, p.f * p.pt, p.h * p.ph, p.w * p.pw}, rng);
  const int64_t L = p.f * p.h * p.w, K = p.C * p.pt * p.ph * p.pw;
  Tensor cpu = Tensor::empty({L, K}, DType::F32), gpu = ops::empty({L, K}, DType::F32, Device::CUDA);
  ops::patchify(x, p.pt, p.ph, p.pw, cpu);
  ops::patchify(to_gpu(x), p.pt, p.ph, p.pw, gpu);
  EXPECT_EQ(0, std::memcmp(to_cpu(gpu).raw(), cpu.raw(), cpu.nbytes()));

  Tensor vid_cpu = Tensor::empty(x.shape(), DType::F32), vid_gpu = ops::empty(x.shape(), DType::F32, Device::CUDA);
  ops::unpatchify(cpu, p.f, p.h, p.w, p.pt, p.ph, p.pw, vid_cpu);
  ops::unpatchify(to_gpu(cpu), p.f, p.h, p.w, p.pt, p.ph, p.pw, vid_gpu);
  EXPECT_EQ(0, std::memcmp(to_cpu(vid_gpu).raw(), vid_cpu.raw(), vid_cpu.nbytes()));

  const Tensor rows = random_normal_f32({p.f + p.h + p.w, 64}, rng);
  Tensor t_cpu = Tensor::empty({L, 64}, DType::F32), t_gpu = ops::empty({L, 64}, DType::F32, Device::CUDA);
  ops::expand_axis_table(rows, p.f, p.h, p.w, 22, 43, t_cpu);
  ops::expand_axis_table(to_gpu(rows), p.f, p.h, p.w, 22, 43, t_gpu);
  EXPECT_EQ(0, std::memcmp(to_cpu(t_gpu).raw(), t_cpu.raw(), t_cpu.nbytes()));
}

}  // namespace
}  // namespace qdit::test
