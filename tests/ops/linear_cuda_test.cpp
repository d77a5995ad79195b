// ops::linear on the GPU for every scheme. The quantized schemes are checked in three ways:
//  1. activation quantization: the int8 values and per-token scales equal, bit for bit, the ones computed here
//     in plain fp32 (same division, round-half-even);
//  2. the integer part: the tensor-core GEMM's int32 accumulations equal an int64 sum computed here (and hence
//     the CPU's exact int32 accumulation) on the same quantized activations;
//  3. the whole layer against a float64 evaluation of the scheme's formula, and against the CPU ops::linear.
#include <gtest/gtest.h>

#include <cfloat>

#include "ops/cuda_layers.h"
#include "ops/cuda_test_util.h"
#include "util/test_util.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/internal.h"
#endif

namespace qdit::test {
namespace {

struct Shape3 {
  int64_t t, n, k;
};
// Tile tails in every dimension; K = 100 is not a multiple of 16 (the non-tiled kernel); K = 13824 is the FFN
// width of Wan 14B (deep accumulation).
// K = 50 is not a multiple of 4 either (the two-pass quantization kernel).
const Shape3 kShapes[] = {{200, 264, 320}, {33, 40, 100}, {64, 72, 13824}, {1, 8, 64}, {5, 24, 50}};

QuantLinear layer_to_gpu(const QuantLinear& h) {
  QuantLinear d = h;
  for (Tensor* t : {&d.weight, &d.bias, &d.weight_scale, &d.weight_offset, &d.deq_scale, &d.quant_bias})
    if (t->defined()) *t = to_gpu(*t);
  return d;
}

// Per-token quantization exactly as the format defines it, in fp32.
void quantize_ref(const Tensor& x, int qmin, int qmax, std::vector<int8_t>& xq, std::vector<float>& s) {
  int64_t t = x.dim(0), k = x.dim(1);
  xq.resize(t * k);
  s.resize(t);
  for (int64_t r = 0; r < t; ++r) {
    float m = 0.0f;
    for (int64_t i = 0; i < k; ++i) m = std::max(m, std::fabs(x.data<float>()[r * k + i]));
    float sc = std::max(m / static_cast<float>(qmax), FLT_EPSILON);
    s[r] = sc;
    for (int64_t i = 0; i < k; ++i) {
      float q = std::nearbyint(x.data<float>()[r * k + i] / sc);
      xq[r * k + i] = static_cast<int8_t>(std::min<float>(std::max<float>(q, qmin), qmax));
    }
  }
}

int64_t dot_i64(const int8_t* a, const int8_t* b, int64_t k) {
  int64_t acc = 0;
  for (int64_t i = 0; i < k; ++i) acc += int64_t(a[i]) * int64_t(b[i]);
  return acc;
}

Tensor run_gpu(const Tensor& x, const QuantLinear& w, ops::Precision p) {
  Tensor y = poisoned_gpu({x.dim(0), w.out_features}, DType::F32);
  ops::linear(to_gpu(x), layer_to_gpu(w), y, p);
  return to_cpu(y);
}

Tensor run_cpu(const Tensor& x, const QuantLinear& w, ops::Precision p) {
  Tensor y = Tensor::empty({x.dim(0), w.out_features}, DType::F32);
  ops::linear(x, w, y, p);
  return y;
}

void check_dynamic(SchemeId scheme, bool with_bias) {
  for (const Shape3& sh : kShapes) {
    SCOPED_TRACE("scheme " + std::to_string(int(scheme)) + " T=" + std::to_string(sh.t) + " N=" + std::to_string(sh.n) +
                 " K=" + std::to_string(sh.k) + (with_bias ? " bias" : ""));
    GpuScratch scratch;
    Rng rng(100 + sh.k + sh.n);
    QuantLinear w;
    w.scheme = scheme;
    w.out_features = sh.n;
    w.in_features = sh.k;
    bool int4_w = scheme != SchemeId::W8A8Dynamic;
    w.weight = random_int8({sh.n, sh.k}, rng, int4_w ? -8 : -128, int4_w ? 7 : 127);
    w.weight_scale = random_uniform_f32({sh.n}, rng, 1e-4, 2e-3);
    if (with_bias) w.bias = random_normal_f32({sh.n}, rng);
    Tensor x = random_normal_f32({sh.t, sh.k}, rng, 0.1, 2.0);
    x.data<float>()[0] = 7.5f;  // a clear outlier in row 0 (per-token scales must differ between rows)

    std::vector<int8_t> xq;
    std::vector<float> st;
    quantize_ref(x, w.act_qmin(), w.act_qmax(), xq, st);
    std::vector<double> ref(static_cast<size_t>(sh.t * sh.n));
    for (int64_t r = 0; r < sh.t; ++r)
      for (int64_t c = 0; c < sh.n; ++c) {
        double acc = double(dot_i64(&xq[r * sh.k], w.weight.data<int8_t>() + c * sh.k, sh.k));
        ref[r * sh.n + c] = acc * w.weight_scale.data<float>()[c] * st[r] + (with_bias ? w.bias.data<float>()[c] : 0.0);
      }
    for (auto p : {ops::Precision::FP32, ops::Precision::BF16}) {
      Tensor got = run_gpu(x, w, p);
      EXPECT_LT(rel_l2(got, ref), 1e-6);
      EXPECT_LT(rel_l2(got, run_cpu(x, w, p)), 1e-6);
    }
  }
}

TEST(LinearCuda, W8A8Dynamic) {
  QDIT_REQUIRE_GPU();
  check_dynamic(SchemeId::W8A8Dynamic, true);
  check_dynamic(SchemeId::W8A8Dynamic, false);
}

TEST(LinearCuda, W4A4Dynamic) {
  QDIT_REQUIRE_GPU();
  check_dynamic(SchemeId::W4A4Dynamic, true);
}

TEST(LinearCuda, W4A8Dynamic) {
  QDIT_REQUIRE_GPU();
  check_dynamic(SchemeId::W4A8Dynamic, true);
}

TEST(LinearCuda, W8A8Static) {
  QDIT_REQUIRE_GPU();
  for (const Shape3& sh : kShapes) {
    SCOPED_TRACE("T=" + std::to_string(sh.t) + " N=" + std::to_string(sh.n) + " K=" + std::to_string(sh.k));
    GpuScratch scratch;
    Rng rng(200 + sh.k);
    QuantLinear w;
    w.scheme = SchemeId::W8A8;
    w.out_features = sh.n;
    w.in_features = sh.k;
    w.weight = random_int8({sh.n, sh.k}, rng, -128, 127);
    w.input_scale = 0.021f;
    w.input_offset = -7.0f;
    w.deq_scale = random_uniform_f32({sh.n}, rng, 1e-5, 1e-4);
    w.quant_bias = Tensor::empty({sh.n}, DType::I32);
    for (int64_t c = 0; c < sh.n; ++c) w.quant_bias.data<int32_t>()[c] = static_cast<int32_t>(rng.integer(-50000, 50000));
    // Values beyond the int8 range on both sides exercise saturation.
    Tensor x = random_normal_f32({sh.t, sh.k}, rng, 0.0, 1.5);
    std::vector<double> ref(static_cast<size_t>(sh.t * sh.n));
    std::vector<int8_t> xq(sh.t * sh.k);
    for (int64_t i = 0; i < sh.t * sh.k; ++i) {
      float q = std::nearbyint(x.data<float>()[i] / w.input_scale + w.input_offset);
      xq[i] = static_cast<int8_t>(std::min(127.0f, std::max(-128.0f, q)));
    }
    for (int64_t r = 0; r < sh.t; ++r)
      for (int64_t c = 0; c < sh.n; ++c) {
        int64_t acc = dot_i64(&xq[r * sh.k], w.weight.data<int8_t>() + c * sh.k, sh.k) + w.quant_bias.data<int32_t>()[c];
        ref[r * sh.n + c] = double(acc) * w.deq_scale.data<float>()[c];
      }
    Tensor got = run_gpu(x, w, ops::Precision::BF16);
    EXPECT_LT(rel_l2(got, ref), 1e-6);
    EXPECT_LT(rel_l2(got, run_cpu(x, w, ops::Precision::BF16)), 1e-6);
  }
}

TEST(LinearCuda, FloatFp32IsTrueFp32) {
  QDIT_REQUIRE_GPU();
  for (DType wd : {DType::F32, DType::BF16, DType::F16}) {
    for (const Shape3& sh : kShapes) {
      SCOPED_TRACE(std::string(dtype_name(wd)) + " T=" + std::to_string(sh.t) + " K=" + std::to_string(sh.k));
      GpuScratch scratch;
      Rng rng(300 + sh.k);
      QuantLinear w;
      w.out_features = sh.n;
      w.in_features = sh.k;
      Tensor w32 = random_normal_f32({sh.n, sh.k}, rng, 0.0, 0.05);
      w.weight = Tensor::empty({sh.n, sh.k}, wd);
      for (int64_t i = 0; i < w32.numel(); ++i) {
        float v = w32.data<float>()[i];
        if (wd == DType::F32) w.weight.data<float>()[i] = v;
        if (wd == DType::BF16) w.weight.data<uint16_t>()[i] = f32_to_bf16(v);
        if (wd == DType::F16) w.weight.data<uint16_t>()[i] = f32_to_f16(v);
      }
      w.bias = random_normal_f32({sh.n}, rng);
      Tensor x = random_normal_f32({sh.t, sh.k}, rng);
      std::vector<double> wv = as_doubles(w.weight), ref(static_cast<size_t>(sh.t * sh.n));
      for (int64_t r = 0; r < sh.t; ++r)
        for (int64_t c = 0; c < sh.n; ++c) {
          double acc = w.bias.data<float>()[c];
          for (int64_t i = 0; i < sh.k; ++i) acc += double(x.data<float>()[r * sh.k + i]) * wv[c * sh.k + i];
          ref[r * sh.n + c] = acc;
        }
      Tensor got = run_gpu(x, w, ops::Precision::FP32);
      // TF32 would land near 3e-4 (10-bit mantissa inputs): 1e-5 proves full fp32 products.
      EXPECT_LT(rel_l2(got, ref), 1e-5);
      EXPECT_LT(rel_l2(got, run_cpu(x, w, ops::Precision::FP32)), 1e-5);
    }
  }
}

TEST(LinearCuda, FloatBf16RoundsInputsAndAccumulatesInFp32) {
  QDIT_REQUIRE_GPU();
  for (const Shape3& sh : kShapes) {
    SCOPED_TRACE("T=" + std::to_string(sh.t) + " K=" + std::to_string(sh.k));
    GpuScratch scratch;
    Rng rng(400 + sh.k);
    QuantLinear w;
    w.out_features = sh.n;
    w.in_features = sh.k;
    w.weight = random_normal_f32({sh.n, sh.k}, rng, 0.0, 0.05);
    Tensor x = random_normal_f32({sh.t, sh.k}, rng);
    std::vector<double> xb = bf16_rounded(x), wb = bf16_rounded(w.weight), ref(static_cast<size_t>(sh.t * sh.n)),
                        exact(ref.size());
    for (int64_t r = 0; r < sh.t; ++r)
      for (int64_t c = 0; c < sh.n; ++c) {
        double acc = 0, acc_exact = 0;
        for (int64_t i = 0; i < sh.k; ++i) {
          acc += xb[r * sh.k + i] * wb[c * sh.k + i];
          acc_exact += double(x.data<float>()[r * sh.k + i]) * w.weight.data<float>()[c * sh.k + i];
        }
        ref[r * sh.n + c] = acc;
        exact[r * sh.n + c] = acc_exact;
      }
    Tensor got = run_gpu(x, w, ops::Precision::BF16);
    EXPECT_LT(rel_l2(got, ref), 1e-5);    // the same function as the bf16-rounded reference
    EXPECT_LT(rel_l2(got, exact), 1e-2);  // and within the bf16 budget of the exact product
    EXPECT_LT(rel_l2(got, run_cpu(x, w, ops::Precision::BF16)), 1e-5);
  }
}

TEST(LinearCuda, W8A16WithOffset) {
  QDIT_REQUIRE_GPU();
  for (const Shape3& sh : kShapes) {
    SCOPED_TRACE("T=" + std::to_string(sh.t) + " K=" + std::to_string(sh.k));
    GpuScratch scratch;
    Rng rng(500 + sh.k);
    QuantLinear w;
    w.scheme = SchemeId::W8A16;
    w.out_features = sh.n;
    w.in_features = sh.k;
    w.weight = random_int8({sh.n, sh.k}, rng, -128, 127);
    w.weight_scale = random_uniform_f32({sh.n}, rng, 1e-4, 1e-3);
    w.weight_offset = Tensor::empty({sh.n}, DType::F32);
    for (int64_t c = 0; c < sh.n; ++c) w.weight_offset.data<float>()[c] = static_cast<float>(rng.integer(-5, 5));
    w.bias = random_normal_f32({sh.n}, rng);
    Tensor x = random_normal_f32({sh.t, sh.k}, rng);
    for (auto p : {ops::Precision::FP32, ops::Precision::BF16}) {
      bool b16 = p == ops::Precision::BF16;
      std::vector<double> ref(static_cast<size_t>(sh.t * sh.n));
      for (int64_t r = 0; r < sh.t; ++r)
        for (int64_t c = 0; c < sh.n; ++c) {
          double acc = w.bias.data<float>()[c];
          for (int64_t i = 0; i < sh.k; ++i) {
            float wd = (float(w.weight.data<int8_t>()[c * sh.k + i]) - w.weight_offset.data<float>()[c]) *
                       w.weight_scale.data<float>()[c];
            float xv = x.data<float>()[r * sh.k + i];
            acc += double(b16 ? round_to_bf16(xv) : xv) * double(b16 ? round_to_bf16(wd) : wd);
          }
          ref[r * sh.n + c] = acc;
        }
      Tensor got = run_gpu(x, w, p);
      EXPECT_LT(rel_l2(got, ref), 1e-5) << (b16 ? "BF16" : "FP32");
      EXPECT_LT(rel_l2(got, run_cpu(x, w, p)), 1e-5) << (b16 ? "BF16" : "FP32");
    }
  }
}

TEST(LinearCuda, RejectsMissingSchemeTensors) {
  QDIT_REQUIRE_GPU();
  GpuScratch scratch;
  Rng rng(600);
  QuantLinear w;
  w.scheme = SchemeId::W8A8Dynamic;
  w.out_features = 16;
  w.in_features = 32;
  w.weight = to_gpu(random_int8({16, 32}, rng, -128, 127));  // no weight_scale
  Tensor x = to_gpu(random_normal_f32({4, 32}, rng));
  Tensor y = ops::empty({4, 16}, DType::F32, Device::CUDA);
  EXPECT_THROW(ops::linear(x, w, y, ops::Precision::BF16), Error);
}

#ifdef QDIT_WITH_CUDA
// The integer part alone: quantization bit-exact, int32 accumulations identical to the exact sum.
TEST(LinearCuda, QuantizationAndInt32AccumulationAreExact) {
  QDIT_REQUIRE_GPU();
  for (const Shape3& sh : kShapes) {
    for (int qmax : {127, 7}) {
      SCOPED_TRACE("T=" + std::to_string(sh.t) + " N=" + std::to_string(sh.n) + " K=" + std::to_string(sh.k) +
                   " qmax=" + std::to_string(qmax));
      GpuScratch scratch;
      Rng rng(700 + sh.k + qmax);
      Tensor x = random_normal_f32({sh.t, sh.k}, rng, 0.0, 3.0);
      if (sh.t > 1)
        for (int64_t i = 0; i < sh.k; ++i) x.data<float>()[sh.k + i] = 0.0f;  // an all-zero row: eps floor
      Tensor w = random_int8({sh.n, sh.k}, rng, -128, 127);
      std::vector<int8_t> xq;
      std::vector<float> st;
      quantize_ref(x, qmax == 7 ? -8 : -128, qmax, xq, st);

      Tensor xqd = poisoned_gpu({sh.t, sh.k}, DType::I8), sd = poisoned_gpu({sh.t}, DType::F32);
      ops::cuda::quantize_per_token(to_gpu(x), qmax == 7 ? -8 : -128, qmax, xqd, sd);
      Tensor xq_got = to_cpu(xqd), s_got = to_cpu(sd);
      ASSERT_EQ(0, std::memcmp(xq_got.raw(), xq.data(), xq.size())) << "int8 activations differ";
      ASSERT_EQ(0, std::memcmp(s_got.raw(), st.data(), st.size() * 4)) << "per-token scales differ";

      Tensor wd = to_gpu(w);
      // Every int8 kernel that takes these operands (K % 16 != 0: only the simple one).
      for (int ki = 0; ki < ops::cuda::kInt8KernelCount; ++ki) {
        const auto kernel = static_cast<ops::cuda::Int8Kernel>(ki);
        Tensor acc = poisoned_gpu({sh.t, sh.n}, DType::I32);
        ops::cuda::Int8Gemm g;
        g.a = xqd.data<int8_t>();
        g.b = wd.data<int8_t>();
        g.m = sh.t;
        g.n = sh.n;
        g.k = sh.k;
        g.out = acc.raw();
        if (!ops::cuda::int8_kernel_accepts(kernel, g)) continue;
        ops::cuda::int8_gemm_with(g, ops::cuda::Int8Epilogue::StoreS32, kernel);
        Tensor acc_got = to_cpu(acc);
        int64_t mismatches = 0;
        for (int64_t r = 0; r < sh.t; ++r)
          for (int64_t c = 0; c < sh.n; ++c)
            mismatches +=
                acc_got.data<int32_t>()[r * sh.n + c] != dot_i64(&xq[r * sh.k], w.data<int8_t>() + c * sh.k, sh.k);
        EXPECT_EQ(mismatches, 0) << "kernel " << ops::cuda::int8_kernel_name(kernel);
      }
    }
  }
}

// Extreme operands: every product at its largest magnitude (-128 * -128) over the deepest Wan K.
TEST(LinearCuda, Int32AccumulationAtExtremes) {
  QDIT_REQUIRE_GPU();
  GpuScratch scratch;
  int64_t t = 130, n = 136, k = 13824;
  Tensor a = Tensor::empty({t, k}, DType::I8), b = Tensor::empty({n, k}, DType::I8);
  std::memset(a.raw(), 0x80, a.nbytes());
  std::memset(b.raw(), 0x80, b.nbytes());
  b.data<int8_t>()[5 * k + 3] = 127;  // one column differs by a known amount
  Tensor ad = to_gpu(a), bd = to_gpu(b);
  for (int ki = 0; ki < ops::cuda::kInt8KernelCount; ++ki) {
    const auto kernel = static_cast<ops::cuda::Int8Kernel>(ki);
    SCOPED_TRACE(ops::cuda::int8_kernel_name(kernel));
    Tensor acc = poisoned_gpu({t, n}, DType::I32);
    ops::cuda::Int8Gemm g;
    g.a = ad.data<int8_t>();
    g.b = bd.data<int8_t>();
    g.m = t;
    g.n = n;
    g.k = k;
    g.out = acc.raw();
    ops::cuda::int8_gemm_with(g, ops::cuda::Int8Epilogue::StoreS32, kernel);
    Tensor got = to_cpu(acc);
    for (int64_t r = 0; r < t; ++r)
      for (int64_t c = 0; c < n; ++c) {
        int64_t want = c == 5 ? (k - 1) * 16384 + (-128 * 127) : k * 16384;
        ASSERT_EQ(got.data<int32_t>()[r * n + c], want) << "row " << r << " col " << c;
      }
  }
}
#endif

}  // namespace
}  // namespace qdit::test
