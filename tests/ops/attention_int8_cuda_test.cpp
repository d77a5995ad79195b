// The int8-QK Hopper attention (ops/cuda/attention_int8.h) against two float64 references written here:
//  - "quantized": the contract's own arithmetic (k's mean over keys subtracted, q quantized per token and head, k
//    per tile of 128 keys and head, with scale max|x| / 127 and round-half-even, v in fp16 (or e4m3) after its
//    per-channel power-of-two scaling), then exact softmax and P.V. The kernel differs from it only by its
//    exponentials, the rounding of P and its fp32 sums, so this bound is tight: a wrong scale, lost mean, mis-laid
//    fragment or key range is off by far more;
//  - "exact": attention of the unrounded inputs, the error the contract costs (the accuracy study,
//    bench/attention_8bit_study.cpp, expects ~1e-2 on logits of std 1).
// Lengths that are no multiple of the 192-row/128-key tiles, fewer keys
// than a tile, several heads, bf16 inputs and output, an all-zero query row, a key offset shared by every token
// (what smoothing removes), a full 32760-token head, and the shapes the kernel refuses.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "ops/attention_ref.h"
#include "ops/cuda_test_util.h"
#include "util/test_util.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/attention_cudnn.h"
#include "qdit/ops/cuda/attention_int8.h"
#endif

namespace qdit::test {
namespace {

#ifdef QDIT_WITH_CUDA
constexpr int64_t kHd = 128;

// The contract's quantization in float64: per (block of `block` rows, head), x (minus `mean` when given) -> q *
// scale. q: blocks of 1 token; k: blocks of 128 keys (the kernel's tiles; the last one may be short).
std::vector<double> quantize_dequantize(const std::vector<double>& x, int64_t rows, int64_t heads,
                                        const std::vector<double>* mean, int64_t block) {
  const int64_t w = heads * kHd;
  std::vector<double> out(x.size());
  for (int64_t r0 = 0; r0 < rows; r0 += block)
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t r1 = std::min(rows, r0 + block);
      double amax = 0;
      std::vector<double> v((r1 - r0) * kHd);
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t d = 0; d < kHd; ++d) {
          double& y = v[(r - r0) * kHd + d];
          y = x[r * w + h * kHd + d] - (mean ? (*mean)[h * kHd + d] : 0.0);
          amax = std::max(amax, std::fabs(y));
        }
      const double scale = static_cast<float>(amax / 127.0);
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t d = 0; d < kHd; ++d)
          out[r * w + h * kHd + d] = amax > 0 ? std::nearbyint(v[(r - r0) * kHd + d] / scale) * scale : 0.0;
    }
  return out;
}

// e4m3 (bias 7, 3 mantissa bits, subnormal step 2^-9, largest 448): round to nearest even, saturating.
double round_e4m3(double x) {
  if (x == 0.0) return x;
  const double a = std::min(std::fabs(x), 448.0);
  int e = 0;
  std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  const double ulp = std::ldexp(1.0, std::max(e - 1, -6) - 3);
  return std::copysign(std::min(std::nearbyint(a / ulp) * ulp, 448.0), x);
}
double round_f16(double x) { return f16_to_f32(f32_to_f16(static_cast<float>(x))); }

// v as the kernel holds it: per channel, divided by the power of two that puts its largest magnitude in
// [2^(top-1), 2^top), rounded by `round`, multiplied back.
std::vector<double> per_channel(const std::vector<double>& v, int64_t rows, int64_t w, int top,
                                double (*round)(double)) {
  std::vector<double> out(v.size());
  for (int64_t c = 0; c < w; ++c) {
    double amax = 0;
    for (int64_t r = 0; r < rows; ++r) amax = std::max(amax, std::fabs(v[r * w + c]));
    int e = 0;
    std::frexp(amax, &e);
    const double scale = amax > 0 ? std::ldexp(1.0, e - top) : 1.0;
    for (int64_t r = 0; r < rows; ++r) out[r * w + c] = round(v[r * w + c] / scale) * scale;
  }
  return out;
}
// fp16 form: largest magnitude in [16384, 32768). e4m3 form: in [128, 256).
std::vector<double> f16_per_channel(const std::vector<double>& v, int64_t rows, int64_t w) {
  return per_channel(v, rows, w, 15, round_f16);
}
std::vector<double> e4m3_per_channel(const std::vector<double>& v, int64_t rows, int64_t w) {
  return per_channel(v, rows, w, 8, round_e4m3);
}

// The e4m3 form's P.V in float64 (attention_int8.h): keys in tiles of 128, a running maximum m (log2 units)
// raised by every tile whose largest score exceeds it, P = e4m3(2^(score - m + log2 448)) against the m of its
// tile, O and the row sum of the rounded P rescaled by 2^(m_old - m_new) when m moves. q8, k8: dequantized
// operands, v8: e4m3_per_channel's.
std::vector<double> attention_e4m3_pv_ref(const std::vector<double>& q8, const std::vector<double>& k8,
                                          const std::vector<double>& v8, int64_t lk, int64_t heads, double scale,
                                          const std::vector<int64_t>& rows) {
  const int64_t w = heads * kHd;
  std::vector<double> out(rows.size() * w), s(static_cast<size_t>(lk)), o(kHd);
  for (size_t ri = 0; ri < rows.size(); ++ri)
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t j = 0; j < lk; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < kHd; ++d) dot += q8[rows[ri] * w + h * kHd + d] * k8[j * w + h * kHd + d];
        s[j] = dot * scale * M_LOG2E;
      }
      double m = -INFINITY, l = 0;
      std::fill(o.begin(), o.end(), 0.0);
      for (int64_t t0 = 0; t0 < lk; t0 += 128) {
        const int64_t t1 = std::min(lk, t0 + 128);
        const double tile_max = *std::max_element(s.begin() + t0, s.begin() + t1);
        if (tile_max > m) {
          const double corr = std::exp2(m - tile_max);  // 0 on the first tile
          for (double& x : o) x *= corr;
          l *= corr;
          m = tile_max;
        }
        for (int64_t j = t0; j < t1; ++j) {
          const double p = round_e4m3(std::exp2(s[j] - m + std::log2(448.0)));
          l += p;
          for (int64_t d = 0; d < kHd; ++d) o[d] += p * v8[j * w + h * kHd + d];
        }
      }
      for (int64_t d = 0; d < kHd; ++d) out[ri * w + h * kHd + d] = o[d] / l;
    }
  return out;
}

std::vector<double> column_mean(const std::vector<double>& x, int64_t rows, int64_t w) {
  std::vector<double> m(w, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < w; ++c) m[c] += x[r * w + c];
  for (double& v : m) v /= static_cast<double>(rows);
  return m;
}

struct Case {
  int64_t lq, lk, heads;
  uint64_t seed;
  bool bf16_io = false;     // q, k, v and out in bf16 (the lean forward's buffers)
  double k_offset_std = 0;  // a per-channel offset shared by every key
  bool e4m3_pv = false;     // P.V in e4m3 (PvFormat::E4M3)
  bool k_tile_magnitudes = false;  // keys scaled by 1/8 in the second tile and by 2 in every 16th key elsewhere
};

struct Result {
  double vs_quantized, vs_exact;
};

Result run_case(const Case& c, const std::vector<int64_t>& rows = {}) {
  Rng rng(c.seed);
  const int64_t w = c.heads * kHd;
  Tensor q = random_normal_f32({c.lq, w}, rng), k = random_normal_f32({c.lk, w}, rng),
         v = random_normal_f32({c.lk, w}, rng);
  if (c.k_offset_std > 0) {
    Tensor offset = random_normal_f32({w}, rng, 0.0, c.k_offset_std);
    for (int64_t r = 0; r < c.lk; ++r)
      for (int64_t i = 0; i < w; ++i) k.data<float>()[r * w + i] += offset.data<float>()[i];
  }
  if (c.k_tile_magnitudes)
    for (int64_t r = 0; r < c.lk; ++r) {
      const float mag = (r >= 128 && r < 256) ? 0.125f : (r % 16 == 0 ? 2.0f : 1.0f);
      for (int64_t i = 0; i < w; ++i) k.data<float>()[r * w + i] *= mag;
    }
  const float scale = 1.0f / std::sqrt(static_cast<float>(kHd));
  // In bf16 mode the kernel sees bf16-rounded inputs: the references start from the same values.
  auto values = [&](const Tensor& t) { return c.bf16_io ? bf16_rounded(t) : as_doubles(t); };
  const std::vector<double> qv = values(q), kv = values(k), vv = values(v);
  const std::vector<int64_t> sel = rows.empty() ? all_rows(c.lq) : rows;
  const std::vector<double> kmean = column_mean(kv, c.lk, w);
  const std::vector<double> q8 = quantize_dequantize(qv, c.lq, c.heads, nullptr, 1),
                            k8 = quantize_dequantize(kv, c.lk, c.heads, &kmean, 128);
  const std::vector<double> quantized =
      c.e4m3_pv ? attention_e4m3_pv_ref(q8, k8, e4m3_per_channel(vv, c.lk, w), c.lk, c.heads, scale, sel)
                : attention_ref(q8, k8, f16_per_channel(vv, c.lk, w), c.lq, c.lk, c.heads, kHd, scale, sel);
  const std::vector<double> exact = attention_ref(qv, kv, vv, c.lq, c.lk, c.heads, kHd, scale, sel);

  const DType io = c.bf16_io ? DType::BF16 : DType::F32;
  auto dev = [&](const Tensor& t) { return io == DType::F32 ? to_gpu(t) : converted(to_gpu(t), io); };
  Tensor out = poisoned_gpu({c.lq, w}, io);
  ops::cuda::attention_int8_qk(dev(q), dev(k), dev(v), c.heads, scale, out,
                               c.e4m3_pv ? ops::cuda::PvFormat::E4M3 : ops::cuda::PvFormat::F16);
  const Tensor got = to_cpu(io == DType::F32 ? out : converted(out, DType::F32));
  std::vector<double> sampled;
  for (int64_t r : sel)
    for (int64_t i = 0; i < w; ++i) {
      const double x = got.data<float>()[r * w + i];
      EXPECT_TRUE(std::isfinite(x)) << "row " << r << " column " << i;
      sampled.push_back(x);
    }
  Result res{rel_l2(sampled, quantized), rel_l2(sampled, exact)};
  std::printf("[ int8-qk attention ] Lq=%lld Lk=%lld heads=%lld%s%s%s: rel_l2 vs quantized float64 %.2e, vs "
              "exact %.2e\n",
              static_cast<long long>(c.lq), static_cast<long long>(c.lk),
              static_cast<long long>(c.heads), c.bf16_io ? " bf16 io" : "", c.k_offset_std > 0 ? " k offset" : "",
              c.e4m3_pv ? " e4m3 P.V" : "", res.vs_quantized, res.vs_exact);
  return res;
}

// Exponent arguments and P in fp16 (relative rounding ~2^-10 per probability, averaging over keys) and bf16
// output: a few 1e-3 at most.
constexpr double kVsQuantized = 6e-3;
// The contract's own cost on logits of std 1 (~1e-2 in the accuracy study) plus the roundings above.
constexpr double kVsExact = 3e-2;

// e4m3 P.V: the reference rounds P from float64 scores, the kernel from fp32 scores and approximate fp32
// exponentials, so some probabilities land one e4m3 step (2^-3 relative) apart; a mis-laid byte of P or key of v
// is off by O(1).
constexpr double kVsQuantizedE4m3 = 8e-3;
// The accuracy study's ~3.6e-2 for e4m3 P.V on logits of std 1, with margin.
constexpr double kVsExactE4m3 = 6e-2;

void check(const Case& c) {
  QDIT_REQUIRE_GPU();
  GpuScratch scratch;
  const Result r = run_case(c);
  EXPECT_LT(r.vs_quantized, c.e4m3_pv ? kVsQuantizedE4m3 : kVsQuantized);
  EXPECT_LT(r.vs_exact, c.e4m3_pv ? kVsExactE4m3 : kVsExact);
  // The kernel computes the quantized function, not some other approximation of the exact one.
  EXPECT_LT(r.vs_quantized, c.e4m3_pv ? 0.5 * r.vs_exact : r.vs_exact);
}

TEST(AttentionInt8QkCuda, WholeTiles) { check({192, 256, 1, 1}); }
TEST(AttentionInt8QkCuda, RaggedLengthsSeveralHeads) { check({300, 300, 2, 2}); }
TEST(AttentionInt8QkCuda, FewerKeysThanOneTile) { check({200, 77, 2, 3}); }
TEST(AttentionInt8QkCuda, ManyKeyTilesFewQueries) { check({5, 1000, 3, 4}); }
TEST(AttentionInt8QkCuda, Bf16InputsAndOutput) { check({257, 513, 2, 5, /*bf16_io=*/true}); }
TEST(AttentionInt8QkCuda, E4m3PvWholeTiles) { check({192, 256, 1, 1, false, 0, /*e4m3_pv=*/true}); }
TEST(AttentionInt8QkCuda, E4m3PvRaggedLengthsSeveralHeads) { check({300, 300, 2, 2, false, 0, true}); }
// 77 keys: the last block of 32 is partial, so the key permutation moves keys across the end (zeros there).
TEST(AttentionInt8QkCuda, E4m3PvFewerKeysThanOneTile) { check({200, 77, 2, 3, false, 0, true}); }
TEST(AttentionInt8QkCuda, E4m3PvManyKeyTilesFewQueries) { check({5, 1000, 3, 4, false, 0, true}); }
TEST(AttentionInt8QkCuda, E4m3PvBf16InputsAndOutput) { check({257, 513, 2, 5, true, 0, true}); }

// Keys sharing a large per-channel offset (std 4, as real k carries): smoothing removes it before quantization,
// so the error stays that of the offset-free case instead of the offset eating the int8 range.
TEST(AttentionInt8QkCuda, SharedKeyOffsetIsSmoothedAway) {
  QDIT_REQUIRE_GPU();
  GpuScratch scratch;
  const Result plain = run_case({256, 384, 1, 6});
  const Result offset = run_case({256, 384, 1, 6, false, 4.0});
  EXPECT_LT(offset.vs_quantized, kVsQuantized);
  EXPECT_LT(offset.vs_exact, 1.5 * plain.vs_exact + 1e-3);
}

// The prepared k (attention_int8.h): its mean over keys subtracted, then one scale per tile of 128 keys and head,
// held by every key of the tile (0 past the end), and round-half-even quotients. Integer inputs make the fp32
// column sums exact, so the expected mean, scale and quotients are computed here with the same fp32 operations and
// must match bit for bit. The tiles' magnitudes differ (1, 1/8, then 4), so a per-key or per-head scale is caught.
TEST(AttentionInt8QkCuda, PreparedKHasOneScalePerTileAndHead) {
  QDIT_REQUIRE_GPU();
  GpuScratch scratch;
  const int64_t lk = 300, heads = 2, w = heads * kHd, padded = 384;
  Rng rng(21);
  Tensor k = Tensor::empty({lk, w}, DType::F32);
  for (int64_t r = 0; r < lk; ++r)
    for (int64_t c = 0; c < w; ++c) {
      const float mag = r < 128 ? 1.0f : r < 256 ? 0.125f : 4.0f;
      k.data<float>()[r * w + c] = mag * static_cast<float>(rng.integer(-40, 40));
    }
  const Tensor kd = to_gpu(k);
  const ops::cuda::Int8QkOperands o = ops::cuda::prepare_int8_qk_operands(kd, kd, kd, heads);
  ASSERT_EQ(o.lk_padded, padded);
  const Tensor k8 = to_cpu(Tensor::view(o.k8, {lk, w}, DType::I8, nullptr, Device::CUDA));
  const Tensor ks = to_cpu(Tensor::view(o.k_scale, {heads, padded}, DType::F32, nullptr, Device::CUDA));
  std::vector<float> mean(w);
  for (int64_t c = 0; c < w; ++c) {
    float sum = 0;  // exact: multiples of 1/8 well inside fp32's integers
    for (int64_t r = 0; r < lk; ++r) sum += k.data<float>()[r * w + c];
    mean[c] = sum / static_cast<float>(lk);
  }
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t t0 = 0; t0 < padded; t0 += 128) {
      float amax = 0;
      for (int64_t r = t0; r < std::min(lk, t0 + 128); ++r)
        for (int64_t d = 0; d < kHd; ++d)
          amax = std::max(amax, std::fabs(k.data<float>()[r * w + h * kHd + d] - mean[h * kHd + d]));
      const float scale = amax / 127.0f;
      for (int64_t r = t0; r < t0 + 128; ++r) {
        ASSERT_EQ(ks.data<float>()[h * padded + r], r < lk ? scale : 0.0f) << "head " << h << " key " << r;
        if (r >= lk) continue;
        for (int64_t d = 0; d < kHd; ++d) {
          const float x = k.data<float>()[r * w + h * kHd + d] - mean[h * kHd + d];
          ASSERT_EQ(k8.data<int8_t>()[r * w + h * kHd + d], static_cast<int8_t>(std::nearbyint(x / scale)))
              << "head " << h << " key " << r << " channel " << d;
        }
      }
    }
}

// e4m3 byte -> value (bias 7, 3 mantissa bits, subnormals below 2^-6; 0x7F/0xFF are NaN).
double decode_e4m3(uint8_t b) {
  const int e = (b >> 3) & 15, m = b & 7;
  if (e == 15 && m == 7) return NAN;
  const double mag = e == 0 ? std::ldexp(m, -9) : std::ldexp(8 + m, e - 10);
  return (b & 0x80) ? -mag : mag;
}

// The prepared q and v^T (attention_int8.h), from bf16 inputs (the forward's) at an odd head count and a length
// that is no multiple of 32 or 128: q8 and q_scale per (token, head) bit-exact against the same fp32 operations
// here; v_scale the power of two putting each channel's largest magnitude in [2^(top-1), 2^top); v^T's elements
// exactly v / v_scale rounded to fp16 or e4m3 (the division is exact), e4m3 at the permuted key of each column
// and zeros from lk to the padded length.
TEST(AttentionInt8QkCuda, PreparedQAndTransposedVMatchTheContract) {
  QDIT_REQUIRE_GPU();
  GpuScratch scratch;
  const int64_t l = 300, heads = 3, w = heads * kHd;
  Rng rng(22);
  const Tensor q = converted(to_gpu(random_normal_f32({l, w}, rng)), DType::BF16);
  const Tensor v = converted(to_gpu(random_normal_f32({l, w}, rng, 0.0, 3.0)), DType::BF16);
  const std::vector<double> qh = as_doubles(to_cpu(converted(q, DType::F32)));
  const std::vector<double> vh = as_doubles(to_cpu(converted(v, DType::F32)));
  for (bool e4m3 : {false, true}) {
    SCOPED_TRACE(e4m3 ? "e4m3" : "fp16");
    const ops::cuda::Int8QkOperands o =
        ops::cuda::prepare_int8_qk_operands(q, q, v, heads,
                                            e4m3 ? ops::cuda::PvFormat::E4M3 : ops::cuda::PvFormat::F16);
    const int64_t lp = o.lk_padded;
    const Tensor q8 = to_cpu(Tensor::view(o.q8, {l, w}, DType::I8, nullptr, Device::CUDA));
    const Tensor qs = to_cpu(Tensor::view(o.q_scale, {heads, l}, DType::F32, nullptr, Device::CUDA));
    const Tensor vs = to_cpu(Tensor::view(o.v_scale, {w}, DType::F32, nullptr, Device::CUDA));
    const Tensor vt = to_cpu(Tensor::view(o.vt, {w, lp}, e4m3 ? DType::I8 : DType::F16, nullptr, Device::CUDA));
    for (int64_t r = 0; r < l; ++r)
      for (int64_t h = 0; h < heads; ++h) {
        float amax = 0;
        for (int64_t d = 0; d < kHd; ++d) amax = std::max(amax, std::fabs(static_cast<float>(qh[r * w + h * kHd + d])));
        const float scale = amax / 127.0f;
        ASSERT_EQ(qs.data<float>()[h * l + r], scale) << "token " << r << " head " << h;
        for (int64_t d = 0; d < kHd; ++d)
          ASSERT_EQ(q8.data<int8_t>()[r * w + h * kHd + d],
                    static_cast<int8_t>(std::nearbyint(static_cast<float>(qh[r * w + h * kHd + d]) / scale)))
              << "token " << r << " head " << h << " channel " << d;
      }
    const int top = e4m3 ? 8 : 15;
    for (int64_t c = 0; c < w; ++c) {
      double amax = 0;
      for (int64_t r = 0; r < l; ++r) amax = std::max(amax, std::fabs(vh[r * w + c]));
      const double scale = vs.data<float>()[c];
      ASSERT_GE(amax / scale, std::ldexp(1.0, top - 1)) << "channel " << c;
      ASSERT_LT(amax / scale, std::ldexp(1.0, top)) << "channel " << c;
      ASSERT_EQ(std::log2(scale), std::round(std::log2(scale))) << "channel " << c << ": not a power of two";
      for (int64_t col = 0; col < (e4m3 ? lp : l); ++col) {
        const int64_t key =
            e4m3 ? (col & ~int64_t(31)) | ops::cuda::fp8_key_of_column(static_cast<int>(col & 31)) : col;
        const double want = key < l ? vh[key * w + c] / scale : 0.0;
        const double got = e4m3 ? decode_e4m3(static_cast<uint8_t>(vt.data<int8_t>()[c * lp + col]))
                                : f16_to_f32(vt.data<uint16_t>()[c * lp + col]);
        ASSERT_EQ(got, e4m3 ? round_e4m3(want) : round_f16(want)) << "channel " << c << " column " << col;
      }
    }
  }
}

// Keys whose magnitudes differ by 64x between tiles and by 16x inside one: each tile's scale serves its own keys,
// and the kernel still computes the quantized function (the reference quantizes per tile too).
TEST(AttentionInt8QkCuda, KeyMagnitudesVaryingInsideAndAcrossTiles) {
  QDIT_REQUIRE_GPU();
  GpuScratch scratch;
  for (bool e4m3 : {false, true}) {
    const Result r = run_case({200, 400, 1, 31, false, 0, e4m3, /*k_tile_magnitudes=*/true});
    EXPECT_LT(r.vs_quantized, e4m3 ? kVsQuantizedE4m3 : kVsQuantized);
    EXPECT_LT(r.vs_quantized, e4m3 ? 0.5 * r.vs_exact : r.vs_exact);
  }
}

// An all-zero query row has scale 0: its scores are all 0, so its output is the plain mean of v over the keys.
TEST(AttentionInt8QkCuda, ZeroQueryRowAveragesValues) {
  QDIT_REQUIRE_GPU();
  GpuScratch scratch;
  const int64_t lq = 130, lk = 200, w = kHd;
  Rng rng(7);
  Tensor q = random_normal_f32({lq, w}, rng), k = random_normal_f32({lk, w}, rng), v = random_normal_f32({lk, w}, rng);
  for (int64_t i = 0; i < w; ++i) q.data<float>()[129 * w + i] = 0.f;
  Tensor out = poisoned_gpu({lq, w}, DType::F32);
  ops::cuda::attention_int8_qk(to_gpu(q), to_gpu(k), to_gpu(v), 1, 0.1f, out);
  const Tensor got = to_cpu(out);
  const std::vector<double> vh = f16_per_channel(as_doubles(v), lk, w);
  for (int64_t d = 0; d < w; ++d) {
    double mean = 0;
    for (int64_t j = 0; j < lk; ++j) mean += vh[j * w + d];
    mean /= lk;
    // P = 1 exactly for every key: only the fp32 accumulation order differs.
    EXPECT_NEAR(got.data<float>()[129 * w + d], mean, 1e-5) << "channel " << d;
  }
}

// Wan 14B's self-attention length for one head, on sampled rows (first, tile edges, last).
TEST(AttentionInt8QkCuda, FullLength32760OneHead) {
  QDIT_REQUIRE_GPU();
  GpuScratch scratch;
  const std::vector<int64_t> rows = {0, 1, 63, 64, 127, 128, 4095, 16383, 20000, 32639, 32640, 32759};
  const Result r = run_case({32760, 32760, 1, 8}, rows);
  EXPECT_LT(r.vs_quantized, kVsQuantized);
  EXPECT_LT(r.vs_exact, kVsExact);
  // e4m3 P.V over 256 key tiles: each tile's sum starts a fresh accumulator (attention_int8.h).
  const Result e = run_case({32760, 32760, 1, 8, false, 0, true}, rows);
  EXPECT_LT(e.vs_quantized, kVsQuantizedE4m3);
  EXPECT_LT(e.vs_exact, kVsExactE4m3);
}

TEST(AttentionInt8QkCuda, RefusesOtherHeadDimsAndFp32) {
  QDIT_REQUIRE_GPU();
  GpuScratch scratch;
  Rng rng(9);
  Tensor x64 = to_gpu(random_normal_f32({16, 128}, rng));  // 2 heads of 64
  Tensor out = poisoned_gpu({16, 128}, DType::F32);
  EXPECT_THROW(ops::cuda::attention_int8_qk(x64, x64, x64, 2, 0.1f, out), Error);
  Tensor x = to_gpu(random_normal_f32({16, 128}, rng));
  EXPECT_THROW(ops::cuda::attention_with(x, x, x, 1, 0.1f, out, ops::Precision::FP32,
                                         ops::cuda::AttentionKernel::Int8QkSm90),
               Error);
  EXPECT_THROW(ops::cuda::attention_with(x, x, x, 1, 0.1f, out, ops::Precision::FP32,
                                         ops::cuda::AttentionKernel::Int8QkE4m3PvSm90),
               Error);
}
#endif

}  // namespace
}  // namespace qdit::test
