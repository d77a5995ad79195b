// The int8 GEMM kernels one by one (the mma.sync kernel, the Hopper wgmma/TMA kernels with and without
// multicast clusters and in ping-pong form, the simple kernel), at shapes that hit every edge the Hopper kernels handle: M not a
// multiple of the tile (and an odd tile count, which leaves a cluster's second tile past the last row), N
// odd (no paired stores) and smaller than half a weight tile, K a multiple of 32 or only of 16, K shorter than
// one 128-byte k-block, deep K with a 16-byte tail, and more tiles than CTAs (persistent tiles, pipeline phases
// wrapping across tiles). Checked against sums computed here:
//   - the int32 accumulations bit for bit (StoreS32);
//   - the Dynamic and Static epilogues bit for bit against the same fp32 steps done here, in fp32 and in bf16
//     output (the bf16 value is the fp32 one rounded to nearest even);
//   - the selection rule: which kernel int8_gemm runs, and that asking a tiled kernel for operands it cannot
//     take is an error, never a silent switch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <thread>

#include "ops/cuda_test_util.h"
#include "util/test_util.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/internal.h"
#endif

namespace qdit::test {
namespace {

#ifdef QDIT_WITH_CUDA
namespace cu = ops::cuda;

struct GemmShape {
  int64_t m, n, k;
};
const GemmShape kEdgeShapes[] = {
    {1, 8, 64},         // one row, one partial tile
    {129, 264, 48},     // K = 48 < one k-block, not a multiple of 32; M one past a 128-row tile
    {300, 520, 336},    // K = 2 k-blocks + 80 bytes (not a multiple of 32); N past 2 x 224 and 4 x 128
    {513, 777, 160},    // N odd: single stores; 5 (or 3) row tiles: a cluster's phantom second tile
    {37, 40, 8208},     // deep K with a 16-byte tail; N < half a weight tile (the second half wholly past N)
    {1100, 4000, 384},  // 150+ tiles: several per persistent CTA, pipeline phases wrap across tiles
    {4100, 1700, 912},  // ~460 128x128 tiles: several per ping-pong warpgroup, each deeper (8 k-blocks) than
                        // the ring of stages, and tiles starting at every position of it
};

std::vector<int8_t> random_i8(int64_t count, Rng& rng) {
  std::vector<int8_t> v(static_cast<size_t>(count));
  for (auto& x : v) x = static_cast<int8_t>(rng.integer(-128, 127));
  return v;
}

// Exact sums (|acc| <= K * 2^14 < 2^31 for these K), rows split over the host's cores (the largest shape is
// ~6e9 products).
std::vector<int32_t> reference_acc(const std::vector<int8_t>& a, const std::vector<int8_t>& b, const GemmShape& s) {
  std::vector<int32_t> c(static_cast<size_t>(s.m * s.n));
  auto rows = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t j = 0; j < s.n; ++j) {
        const int8_t* x = &a[r * s.k];
        const int8_t* w = &b[j * s.k];
        int32_t acc = 0;
        for (int64_t i = 0; i < s.k; ++i) acc += int32_t(x[i]) * int32_t(w[i]);
        c[r * s.n + j] = acc;
      }
  };
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(std::thread::hardware_concurrency(), s.m / 64));
  std::vector<std::thread> pool;
  for (int64_t w = 0; w < workers; ++w) pool.emplace_back(rows, s.m * w / workers, s.m * (w + 1) / workers);
  for (auto& t : pool) t.join();
  return c;
}

Tensor device_i8(const std::vector<int8_t>& v, int64_t rows, int64_t cols) {
  Tensor h = Tensor::empty({rows, cols}, DType::I8);
  std::memcpy(h.raw(), v.data(), v.size());
  return to_gpu(h);
}

// Every kernel takes every shape here (all K % 16 == 0, operands from the allocator), except that the TMA-store
// epilogue also needs output rows a multiple of 16 bytes apart: N % 4 == 0 for 4-byte outputs, N % 8 == 0 for bf16.
bool takes(cu::Int8Kernel kernel, const GemmShape& s, bool bf16_out) {
  if (kernel != cu::Int8Kernel::Sm90Tile256x128TmaStore) return true;
  return s.n % (bf16_out ? 8 : 4) == 0;
}

std::string shape_name(const GemmShape& s) {
  return "M=" + std::to_string(s.m) + " N=" + std::to_string(s.n) + " K=" + std::to_string(s.k);
}

TEST(Int8GemmCuda, EveryKernelAccumulatesExactly) {
  QDIT_REQUIRE_GPU();
  for (const GemmShape& s : kEdgeShapes) {
    SCOPED_TRACE(shape_name(s));
    GpuScratch scratch;
    Rng rng(900 + s.k + s.n);
    std::vector<int8_t> a = random_i8(s.m * s.k, rng), b = random_i8(s.n * s.k, rng);
    std::vector<int32_t> want = reference_acc(a, b, s);
    Tensor ad = device_i8(a, s.m, s.k), bd = device_i8(b, s.n, s.k);
    int ran = 0;
    for (int ki = 0; ki < cu::kInt8KernelCount; ++ki) {
      const auto kernel = static_cast<cu::Int8Kernel>(ki);
      Tensor out = poisoned_gpu({s.m, s.n}, DType::I32);
      cu::Int8Gemm g;
      g.a = ad.data<int8_t>();
      g.b = bd.data<int8_t>();
      g.m = s.m;
      g.n = s.n;
      g.k = s.k;
      g.out = out.raw();
      ASSERT_EQ(cu::int8_kernel_accepts(kernel, g), takes(kernel, s, false)) << cu::int8_kernel_name(kernel);
      if (!takes(kernel, s, false)) {
        EXPECT_THROW(cu::int8_gemm_with(g, cu::Int8Epilogue::StoreS32, kernel), Error);
        ++ran;
        continue;
      }
      cu::int8_gemm_with(g, cu::Int8Epilogue::StoreS32, kernel);
      Tensor got = to_cpu(out);
      int64_t mismatches = 0, first = -1;
      for (int64_t i = 0; i < s.m * s.n; ++i)
        if (got.data<int32_t>()[i] != want[i]) {
          if (first < 0) first = i;
          ++mismatches;
        }
      EXPECT_EQ(mismatches, 0) << cu::int8_kernel_name(kernel) << ": first mismatch at row "
                               << (first < 0 ? -1 : first / s.n) << " col " << (first < 0 ? -1 : first % s.n);
      ++ran;
    }
    EXPECT_EQ(ran, cu::kInt8KernelCount);
  }
}

// The epilogues: the same fp32 steps as the CPU reference (modelslim-format.md §3), so equal bit for bit.
TEST(Int8GemmCuda, EveryKernelAppliesTheEpilogueExactly) {
  QDIT_REQUIRE_GPU();
  const GemmShape shapes[] = {{300, 520, 336}, {513, 777, 160}, {1100, 4000, 384}};
  for (const GemmShape& s : shapes) {
    GpuScratch scratch;
    Rng rng(1000 + s.k);
    std::vector<int8_t> a = random_i8(s.m * s.k, rng), b = random_i8(s.n * s.k, rng);
    std::vector<int32_t> acc = reference_acc(a, b, s);
    Tensor rs = random_uniform_f32({s.m}, rng, 1e-3, 2e-2), cs = random_uniform_f32({s.n}, rng, 1e-4, 1e-3),
           bias = random_normal_f32({s.n}, rng), off = Tensor::empty({s.n}, DType::I32);
    for (int64_t j = 0; j < s.n; ++j) off.data<int32_t>()[j] = static_cast<int32_t>(rng.integer(-50000, 50000));
    Tensor ad = device_i8(a, s.m, s.k), bd = device_i8(b, s.n, s.k), rsd = to_gpu(rs), csd = to_gpu(cs),
           biasd = to_gpu(bias), offd = to_gpu(off);
    // Dynamic with and without a bias (the lean interior-tile epilogue compiles each separately), then Static.
    for (int variant = 0; variant < 3; ++variant) {
      const cu::Int8Epilogue e = variant < 2 ? cu::Int8Epilogue::Dynamic : cu::Int8Epilogue::Static;
      const bool dyn = e == cu::Int8Epilogue::Dynamic, with_bias = variant == 0;
      std::vector<float> want(acc.size());
      for (int64_t r = 0; r < s.m; ++r)
        for (int64_t j = 0; j < s.n; ++j) {
          const int32_t v = acc[r * s.n + j];
          float f;
          if (dyn) {
            f = static_cast<float>(v) * cs.data<float>()[j];
            f = f * rs.data<float>()[r];
            if (with_bias) f = f + bias.data<float>()[j];
          } else {
            f = static_cast<float>(v + off.data<int32_t>()[j]) * cs.data<float>()[j];
          }
          want[r * s.n + j] = f;
        }
      for (bool bf16 : {false, true}) {
        for (int ki = 0; ki < cu::kInt8KernelCount; ++ki) {
          const auto kernel = static_cast<cu::Int8Kernel>(ki);
          SCOPED_TRACE(shape_name(s) + " " + cu::int8_kernel_name(kernel) + (dyn ? (with_bias ? " dynamic+bias" : " dynamic") : " static") +
                       (bf16 ? " bf16" : " f32"));
          Tensor out = poisoned_gpu({s.m, s.n}, bf16 ? DType::BF16 : DType::F32);
          cu::Int8Gemm g;
          g.a = ad.data<int8_t>();
          g.b = bd.data<int8_t>();
          g.m = s.m;
          g.n = s.n;
          g.k = s.k;
          g.out = out.raw();
          g.col_scale = csd.data<float>();
          if (dyn) {
            g.row_scale = rsd.data<float>();
            g.bias = with_bias ? biasd.data<float>() : nullptr;
          } else {
            g.col_offset = offd.data<int32_t>();
          }
          g.out_bf16 = bf16;
          ASSERT_EQ(cu::int8_kernel_accepts(kernel, g), takes(kernel, s, bf16));
          if (!takes(kernel, s, bf16)) continue;
          cu::int8_gemm_with(g, e, kernel);
          Tensor got = to_cpu(out);
          int64_t mismatches = 0, first = -1;
          for (int64_t i = 0; i < s.m * s.n; ++i) {
            bool same = bf16 ? got.data<uint16_t>()[i] == f32_to_bf16(want[i])
                             : f32_to_bits(got.data<float>()[i]) == f32_to_bits(want[i]);
            if (!same) {
              if (first < 0) first = i;
              ++mismatches;
            }
          }
          EXPECT_EQ(mismatches, 0) << "first mismatch at row " << (first < 0 ? -1 : first / s.n) << " col "
                                   << (first < 0 ? -1 : first % s.n);
        }
      }
    }
  }
}

// Per-token quantization multiplies by the reciprocal of the scale and decides values near rounding ties from an
// exact fma residual (quantize.cuh); values placed on and a few ulps around x / s = j + 0.5 check that the int8
// results still equal those of the exact division, for both activation ranges (int8 and int4), K with and
// without the vectorised kernel, and f32 or bf16 activations (on the bf16 grid such values are common). bf16 rows
// of a multiple of 8 take the row-team kernel: K = 1536 (a warp per row, 8 rows a block), 2048 (64 threads a row),
// 5120 (128), 13824 (past its reach: the one-row kernel); 61 rows leave teams without a row in the last block.
TEST(Int8GemmCuda, PerTokenQuantizationAtRoundingTies) {
  QDIT_REQUIRE_GPU();
  for (bool bf16 : {false, true})
    for (int qmax : {127, 7})
      for (int64_t k : {int64_t(5120), int64_t(998), int64_t(1536), int64_t(2048), int64_t(13824)}) {
        SCOPED_TRACE(std::string(bf16 ? "bf16" : "f32") + " qmax " + std::to_string(qmax) + " K " + std::to_string(k));
        GpuScratch scratch;
        const int64_t t = 61;
        Rng rng(1200 + qmax + k);
        Tensor x = Tensor::empty({t, k}, DType::F32);
        for (int64_t r = 0; r < t; ++r) {
          float* row = x.data<float>() + r * k;
          const float absmax = static_cast<float>(rng.uniform(0.5, 8.0));
          const float s = std::max(absmax / static_cast<float>(qmax), FLT_EPSILON);  // the scale the row will get
          row[0] = (r % 2) ? -absmax : absmax;
          for (int64_t i = 1; i < k; ++i) {
            const int64_t j = rng.integer(-qmax, qmax - 1);
            float v = (static_cast<float>(j) + 0.5f) * s;
            const int step = static_cast<int>(rng.integer(-2, 2));  // on the tie or a few ulps either side
            for (int u = 0; u < std::abs(step); ++u) v = std::nextafter(v, step > 0 ? INFINITY : -INFINITY);
            row[i] = std::fabs(v) <= absmax ? v : row[0] * 0.5f;
          }
          // bf16 activations: the same draws on the bf16 grid (ties are far more common there: a bf16 value divided
          // by a scale lands on a half often)
          if (bf16)
            for (int64_t i = 0; i < k; ++i) row[i] = round_to_bf16(row[i]);
        }
        std::vector<int8_t> want(static_cast<size_t>(t * k));
        std::vector<float> want_s(static_cast<size_t>(t));
        for (int64_t r = 0; r < t; ++r) {
          const float* row = x.data<float>() + r * k;
          float m = 0.0f;
          for (int64_t i = 0; i < k; ++i) m = std::max(m, std::fabs(row[i]));
          const float s = std::max(m / static_cast<float>(qmax), FLT_EPSILON);
          want_s[r] = s;
          for (int64_t i = 0; i < k; ++i) {
            const float q = std::nearbyint(row[i] / s);
            want[r * k + i] = static_cast<int8_t>(std::min<float>(std::max<float>(q, -qmax - 1), qmax));
          }
        }
        Tensor xq = poisoned_gpu({t, k}, DType::I8), sd = poisoned_gpu({t}, DType::F32);
        Tensor xd = to_gpu(x);
        if (bf16) {
          Tensor xb = ops::empty({t, k}, DType::BF16, Device::CUDA);
          cu::convert(xd, xb);  // exact: the values are on the bf16 grid
          xd = xb;
        }
        cu::quantize_per_token(xd, -qmax - 1, qmax, xq, sd);
        Tensor got = to_cpu(xq), got_s = to_cpu(sd);
        EXPECT_EQ(0, std::memcmp(got_s.raw(), want_s.data(), want_s.size() * 4)) << "per-token scales differ";
        int64_t mismatches = 0;
        for (int64_t i = 0; i < t * k; ++i) mismatches += got.data<int8_t>()[i] != want[i];
        EXPECT_EQ(mismatches, 0);
      }
}

// The documented rule: the Hopper kernel whenever K % 16 == 0 (K > 0) and both operands are 16-byte aligned,
// the simple kernel otherwise (and for a bf16 output whose rows are 16-byte multiples apart, the Hopper kernel's
// TMA-store form); an explicit tiled kernel on operands it cannot take is refused.
TEST(Int8GemmCuda, KernelSelectionRuleAndRefusals) {
  QDIT_REQUIRE_GPU();
  GpuScratch scratch;
  Tensor a = ops::empty({4, 112}, DType::I8, Device::CUDA), b = ops::empty({8, 112}, DType::I8, Device::CUDA),
         out = ops::empty({4, 8}, DType::I32, Device::CUDA);
  cu::Int8Gemm g;
  g.a = a.data<int8_t>();
  g.b = b.data<int8_t>();
  g.m = 4;
  g.n = 8;
  g.out = out.raw();
  g.k = 112;  // a multiple of 16, not of 32
  EXPECT_EQ(std::string(cu::int8_gemm_kernel_name(g)).rfind("sm90_", 0), 0u) << cu::int8_gemm_kernel_name(g);
  g.k = 100;  // not a multiple of 16
  EXPECT_EQ(cu::int8_gemm_path(g), cu::Int8Kernel::Simple);
  EXPECT_THROW(cu::int8_gemm_with(g, cu::Int8Epilogue::StoreS32, cu::Int8Kernel::Sm90Tile128x224), Error);
  EXPECT_THROW(cu::int8_gemm_with(g, cu::Int8Epilogue::StoreS32, cu::Int8Kernel::Mma2Blocks), Error);
  g.k = 96;
  g.a = a.data<int8_t>() + 8;  // 8-byte aligned only
  EXPECT_EQ(cu::int8_gemm_path(g), cu::Int8Kernel::Simple);
  EXPECT_THROW(cu::int8_gemm_with(g, cu::Int8Epilogue::StoreS32, cu::Int8Kernel::Sm90Tile128x224Multicast), Error);
  g.a = a.data<int8_t>();
  g.out_bf16 = true;  // the int32 test epilogue has no bf16 form
  EXPECT_THROW(cu::int8_gemm_with(g, cu::Int8Epilogue::StoreS32, cu::Int8Kernel::Sm90Tile128x224), Error);
  // Output rows 16-byte multiples apart: bf16 output takes the TMA-store form, f32 the register stores.
  EXPECT_EQ(cu::int8_gemm_path(g), cu::Int8Kernel::Sm90Tile256x128TmaStore);
  g.out_bf16 = false;
  EXPECT_EQ(cu::int8_gemm_path(g), cu::Int8Kernel::Sm90Tile256x128);
  // bf16 rows 12 bytes apart (N = 6), or an output base off 16 bytes: the register stores; asked for explicitly,
  // the TMA-store form refuses.
  g.out_bf16 = true;
  g.n = 6;
  EXPECT_EQ(cu::int8_gemm_path(g), cu::Int8Kernel::Sm90Tile256x128);
  EXPECT_THROW(cu::int8_gemm_with(g, cu::Int8Epilogue::Dynamic, cu::Int8Kernel::Sm90Tile256x128TmaStore), Error);
  g.n = 8;
  g.out = static_cast<char*>(out.raw()) + 4;
  EXPECT_EQ(cu::int8_gemm_path(g), cu::Int8Kernel::Sm90Tile256x128);
}
#endif

}  // namespace
}  // namespace qdit::test
