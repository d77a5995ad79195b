// Activation quantization: round-half-even ties, saturation, the epsilon floor, and the kernel layouts.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>

#include "ops_test_util.h"
#include "qdit/ops/cpu/act_quant.h"

namespace qdit {
namespace {

using ops::cpu::Int8ActBuffer;
using ops::cpu::Int8ActLayout;

// The stored byte of row t, column c, as the signed code it stands for.
int signed_code(const Int8ActBuffer& b, int64_t t, int64_t c) {
  const auto v = b.view();
  const uint8_t byte = static_cast<uint8_t>(v.data[v.offset(t, c)]);
  return v.layout.u8_offset ? static_cast<int>(byte) - 128 : static_cast<int>(static_cast<int8_t>(byte));
}

const Int8ActLayout kLayouts[] = {{1, 1, false, false}, {1, 4, true, false}, {32, 64, false, false},
                                  {32, 64, false, true}};

TEST(ActQuant, StaticTiesGoToEvenAndSaturate) {
  test_ops::for_each_cpu_path([] {
    // x / 1 + 0: exact halves round to the even neighbour; out-of-range values saturate.
    const std::vector<float> x = {2.5f, 3.5f, -2.5f, -3.5f, 0.5f, 1.5f, 200.0f, -300.0f, 127.5f, -128.5f, 126.5f};
    const std::vector<int> want = {2, 4, -2, -4, 0, 2, 127, -128, 127, -128, 126};
    for (const Int8ActLayout& layout : kLayouts) {
      Int8ActBuffer b;
      ops::cpu::quantize_static(x.data(), 1, static_cast<int64_t>(x.size()), 1.0f, 0.0f, layout, b);
      for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(signed_code(b, 0, static_cast<int64_t>(i)), want[i]) << "x=" << x[i];
    }
  });
}

TEST(ActQuant, StaticDividesThenAddsTheOffset) {
  test_ops::for_each_cpu_path([] {
    // x / 0.5 + 0.5: 1.0 -> 2.5 -> 2, 1.5 -> 3.5 -> 4, -1.25 -> -2.0 -> -2, 63.5 -> 127.5 -> 127 (saturated tie).
    const std::vector<float> x = {1.0f, 1.5f, -1.25f, 63.5f};
    Int8ActBuffer b;
    ops::cpu::quantize_static(x.data(), 1, 4, 0.5f, 0.5f, kLayouts[0], b);
    EXPECT_EQ(signed_code(b, 0, 0), 2);
    EXPECT_EQ(signed_code(b, 0, 1), 4);
    EXPECT_EQ(signed_code(b, 0, 2), -2);
    EXPECT_EQ(signed_code(b, 0, 3), 127);
  });
}

TEST(ActQuant, DynamicPerTokenScaleAndTies) {
  test_ops::for_each_cpu_path([] {
    // Row 0: max |x| = 127, so s = 1 and the codes are the rounded values. Row 1: all zero -> s = FLT_EPSILON.
    // Row 2: max 254 -> s = 2: 5 -> 2.5 -> 2, 7 -> 3.5 -> 4, -254 -> -127.
    const std::vector<float> x = {127, 2.5f, 3.5f, -2.5f, 0.49f, -127, 0, 0, 0, 0, 0, 0, 254, 5, 7, -254, 1, 0};
    for (const Int8ActLayout& layout : kLayouts) {
      Int8ActBuffer b;
      float s[3];
      ops::cpu::quantize_dynamic(x.data(), 3, 6, -128, 127, layout, b, s);
      EXPECT_EQ(s[0], 1.0f);
      EXPECT_EQ(s[1], FLT_EPSILON);
      EXPECT_EQ(s[2], 2.0f);
      const int want[3][6] = {{127, 2, 4, -2, 0, -127}, {0, 0, 0, 0, 0, 0}, {127, 2, 4, -127, 0, 0}};
      for (int t = 0; t < 3; ++t)
        for (int c = 0; c < 6; ++c) EXPECT_EQ(signed_code(b, t, c), want[t][c]) << "t=" << t << " c=" << c;
    }
  });
}

TEST(ActQuant, DynamicInt4RangeAndEpsilonFloor) {
  test_ops::for_each_cpu_path([] {
    // qmax 7: max 7 -> s = 1; 2.5 -> 2, -3.5 -> -4. A row of denormals still gets s = FLT_EPSILON, codes 0.
    const std::vector<float> x = {7, 2.5f, -3.5f, 0.5f, 1e-40f, -1e-40f, 0, 0};
    Int8ActBuffer b;
    float s[2];
    ops::cpu::quantize_dynamic(x.data(), 2, 4, -8, 7, kLayouts[0], b, s);
    EXPECT_EQ(s[0], 1.0f);
    EXPECT_EQ(s[1], FLT_EPSILON);
    const int want[2][4] = {{7, 2, -4, 0}, {0, 0, 0, 0}};
    for (int t = 0; t < 2; ++t)
      for (int c = 0; c < 4; ++c) EXPECT_EQ(signed_code(b, t, c), want[t][c]);
  });
}

TEST(ActQuant, MatchesPlainFormulaOnRandomRows) {
  test_ops::for_each_cpu_path([] {
    test_ops::Rand r(11);
    for (int64_t k : {1, 7, 63, 65, 200})
      for (int64_t m : {1, 37}) {
        Tensor x = test_ops::uniform_f32({m, k}, r, -3, 3);
        for (const Int8ActLayout& layout : kLayouts) {
          Int8ActBuffer b;
          std::vector<float> s(static_cast<size_t>(m));
          ops::cpu::quantize_dynamic(x.data<float>(), m, k, -128, 127, layout, b, s.data());
          Int8ActBuffer st;
          ops::cpu::quantize_static(x.data<float>(), m, k, 0.0173f, -3.0f, layout, st);
          for (int64_t t = 0; t < m; ++t) {
            const float* row = x.data<float>() + t * k;
            float mx = 0;
            for (int64_t c = 0; c < k; ++c) mx = std::max(mx, std::fabs(row[c]));
            const float want_s = std::max(mx / 127.0f, FLT_EPSILON);
            ASSERT_EQ(s[t], want_s);
            for (int64_t c = 0; c < k; ++c) {
              const float q = std::nearbyint(row[c] / want_s);
              ASSERT_EQ(signed_code(b, t, c), static_cast<int>(std::min(127.0f, std::max(-128.0f, q))));
              const float v = std::nearbyint(row[c] / 0.0173f + -3.0f);
              ASSERT_EQ(signed_code(st, t, c), static_cast<int>(std::min(127.0f, std::max(-128.0f, v))));
            }
          }
          // Padding columns and rows hold the code of zero.
          const auto v = b.view();
          EXPECT_EQ(v.ld % layout.k_multiple, 0);
          EXPECT_EQ(v.rows_padded % layout.rows_multiple, 0);
          for (int64_t t = 0; t < v.rows_padded; ++t)
            for (int64_t c = (t < m ? k : 0); c < v.ld; ++c) ASSERT_EQ(signed_code(b, t, c), 0);
        }
      }
  });
}

TEST(ActQuant, TiledLayoutPlacesSixteenRowBlocksContiguously) {
  // Row t, column c of a tiled buffer with ld = 128: block (t / 16, c / 64) of 1 KiB, row t % 16, byte c % 64.
  ops::cpu::Int8Activations v;
  v.ld = 128;
  v.layout = {32, 64, false, true};
  EXPECT_EQ(v.offset(0, 0), 0);
  EXPECT_EQ(v.offset(1, 0), 64);
  EXPECT_EQ(v.offset(0, 64), 1024);
  EXPECT_EQ(v.offset(17, 70), (1 * 2 + 1) * 1024 + 1 * 64 + 6);
}

TEST(ActQuant, NanBecomesQmin) {
  test_ops::for_each_cpu_path([] {
    const std::vector<float> x = {NAN, 1.0f};
    Int8ActBuffer b;
    ops::cpu::quantize_static(x.data(), 1, 2, 1.0f, 0.0f, kLayouts[0], b);
    EXPECT_EQ(signed_code(b, 0, 0), -128);
    EXPECT_EQ(signed_code(b, 0, 1), 1);
  });
}

}  // namespace
}  // namespace qdit
