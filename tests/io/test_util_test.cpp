// The shared test helpers are used as references by other tests, so they are checked here too.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "util/test_util.h"

namespace qdit {
namespace {

TEST(TestUtil, RngIsDeterministicAndWellDistributed) {
  test::Rng a(42), b(42), c(43);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
  EXPECT_NE(test::Rng(42).next_u64(), c.next_u64());

  test::Rng r(5);
  const int n = 200000;
  double sum = 0, sum2 = 0, usum = 0;
  for (int i = 0; i < n; ++i) {
    double x = r.normal();
    sum += x;
    sum2 += x * x;
    double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    usum += u;
  }
  // Standard errors: mean 1/sqrt(n) = 0.0022, variance sqrt(2/n) = 0.0032, uniform mean 0.00065; 5 sigma bounds.
  EXPECT_NEAR(sum / n, 0.0, 0.011);
  EXPECT_NEAR(sum2 / n - (sum / n) * (sum / n), 1.0, 0.016);
  EXPECT_NEAR(usum / n, 0.5, 0.0033);
  for (int i = 0; i < 1000; ++i) {
    int64_t k = r.integer(-3, 3);
    ASSERT_GE(k, -3);
    ASSERT_LE(k, 3);
  }
}

TEST(TestUtil, TensorsHoldWhatTheySay) {
  Tensor t = test::make_tensor_f32({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(t.shape(), (Shape{2, 2}));
  EXPECT_EQ(t.data<float>()[3], 4.0f);
  EXPECT_THROW(test::make_tensor_f32({3}, {1, 2}), std::invalid_argument);
  test::Rng r(1);
  Tensor u = test::random_uniform_f32({1000}, r, 2.0, 3.0);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_GE(u.data<float>()[i], 2.0f);
    ASSERT_LE(u.data<float>()[i], 3.0f);
  }
  Tensor g = test::random_normal_f32({4000}, r, 10.0, 0.5);
  double mean = 0;
  for (int i = 0; i < 4000; ++i) mean += g.data<float>()[i];
  EXPECT_NEAR(mean / 4000, 10.0, 0.04);  // 5 standard errors (0.5 / sqrt(4000) = 0.0079)
}

TEST(TestUtil, TempDirCleansUp) {
  std::string kept;
  {
    test::TempDir d;
    kept = d.path();
    test::write_json(d.file("a/b/c.json"), {{"x", 1}});
    EXPECT_EQ(nlohmann::json::parse(test::read_text(d.path() + "/a/b/c.json"))["x"], 1);
  }
  EXPECT_FALSE(std::filesystem::exists(kept));
}

}  // namespace
}  // namespace qdit
