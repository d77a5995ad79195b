#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "qdit/quantize/progress_bar.h"
#include "qdit/quantize/synth_random.h"

namespace qdit::quantize {
namespace {

TEST(ProgressBar, RendersLayersAndThroughput) {
  EXPECT_EQ(ProgressBar::render("transformer", 3, 12, 250.04, 8), "transformer [##......] 3/12 layers  250.0 MB/s");
  EXPECT_EQ(ProgressBar::render("x", 12, 12, 0, 4), "x [####] 12/12 layers  0.0 MB/s");
  EXPECT_EQ(ProgressBar::render("x", 0, 0, 0, 4), "x [....] 0/0 layers  0.0 MB/s");
}

TEST(SynthRandom, DeterministicPerNameAndSeed) {
  std::vector<float> a(1001), b(1001), c(1001), d(1001);
  fill_normal(tensor_stream_seed(42, "blocks.0.attn1.to_q.weight"), 0.0f, 1.0f, a.data(), 1001);
  fill_normal(tensor_stream_seed(42, "blocks.0.attn1.to_q.weight"), 0.0f, 1.0f, b.data(), 1001);
  fill_normal(tensor_stream_seed(43, "blocks.0.attn1.to_q.weight"), 0.0f, 1.0f, c.data(), 1001);
  fill_normal(tensor_stream_seed(42, "blocks.0.attn1.to_k.weight"), 0.0f, 1.0f, d.data(), 1001);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  // A prefix of a longer draw is the shorter draw: element i depends only on (stream, i).
  std::vector<float> e(10);
  fill_normal(tensor_stream_seed(42, "blocks.0.attn1.to_q.weight"), 0.0f, 1.0f, e.data(), 10);
  EXPECT_EQ(std::vector<float>(a.begin(), a.begin() + 10), e);
}

TEST(SynthRandom, MomentsOfANormal) {
  const int64_t n = 200000;
  std::vector<float> x(n);
  fill_normal(tensor_stream_seed(1, "t"), 0.5f, 2.0f, x.data(), n);
  double m = 0, v = 0, k4 = 0;
  for (float f : x) m += f;
  m /= n;
  for (float f : x) {
    v += (f - m) * (f - m);
    k4 += std::pow((f - m), 4);
  }
  v /= n;
  k4 /= n * v * v;
  EXPECT_NEAR(m, 0.5, 0.02);
  EXPECT_NEAR(std::sqrt(v), 2.0, 0.02);
  EXPECT_NEAR(k4, 3.0, 0.1);  // kurtosis of a normal
  for (float f : x) ASSERT_TRUE(std::isfinite(f));
}

}  // namespace
}  // namespace qdit::quantize
