// The ops that write or read bf16 activations directly on the GPU (the lean forward's building blocks), each
// against the F32 op followed or preceded by the stand-alone conversion, bit for bit:
//  - rmsnorm / rmsnorm_rope into a BF16 out == the F32 result rounded to nearest even (row-group and per-row
//    kernels, odd half head dims);
//  - linear with a BF16 y == the F32 y rounded; with a BF16 x == linear on its widened F32 values (every scheme);
//  - attention (cuDNN's SDPA) on BF16 q/k/v/out == attention on their F32 values, mixed dtypes too;
// and the dtype rules: BF16 is refused where the kernel takes F32 (CPU tensors, attention with a head_dim outside
// cuDNN's rule, linear at FP32 precision), with an Internal error naming the op and argument.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "ops/cuda_layers.h"
#include "ops/cuda_test_util.h"
#include "util/test_util.h"

namespace qdit::test {
namespace {

#ifdef QDIT_WITH_CUDA
using ops::LinearInputForm;
using ops::LinearInputSpec;

// At least one element must differ between x and its bf16 rounding, or "rounded" would prove nothing.
bool has_unrepresentable(const Tensor& host_f32) {
  for (int64_t i = 0; i < host_f32.numel(); ++i)
    if (round_to_bf16(host_f32.data<float>()[i]) != host_f32.data<float>()[i]) return true;
  return false;
}
#endif

TEST(LeanIoCuda, RmsNormIntoBf16IsTheRoundedF32Result) {
  QDIT_REQUIRE_GPU();
#ifdef QDIT_WITH_CUDA
  // (tokens, heads, head_dim): Wan widths (row groups), an odd half head dim, a row too wide for the groups.
  for (auto [t, heads, hd] : {std::tuple<int64_t, int64_t, int64_t>{9, 40, 128}, {5, 12, 128}, {7, 2, 14},
                              {2, 1, 30720}}) {
    SCOPED_TRACE("T=" + std::to_string(t) + " heads=" + std::to_string(heads) + " hd=" + std::to_string(hd));
    [[maybe_unused]] GpuScratch scratch;
    Rng rng(900 + hd + heads);
    const int64_t d = heads * hd, half = hd / 2;
    Tensor x = to_gpu(random_normal_f32({t, d}, rng, 0.2, 2.0));
    Tensor w = to_gpu(random_normal_f32({d}, rng, 1.0, 0.2));
    Tensor cos = to_gpu(random_uniform_f32({t, half}, rng, -1, 1)), sin = to_gpu(random_uniform_f32({t, half}, rng, -1, 1));
    Tensor f32 = poisoned_gpu({t, d}, DType::F32), b16 = poisoned_gpu({t, d}, DType::BF16);
    ops::rmsnorm_rope(x, w, 1e-6f, heads, cos, sin, f32);
    ops::rmsnorm_rope(x, w, 1e-6f, heads, cos, sin, b16);
    ASSERT_TRUE(has_unrepresentable(to_cpu(f32)));
    EXPECT_TRUE(same_bytes(b16, converted(f32, DType::BF16))) << "rmsnorm_rope";
    Tensor in_place = to_gpu(to_cpu(x));
    ops::rmsnorm_rope(in_place, w, 1e-6f, heads, cos, sin);
    EXPECT_TRUE(same_bytes(in_place, f32)) << "into another F32 tensor == in place";

    ops::rmsnorm(x, w, 1e-6f, f32);
    ops::rmsnorm(x, w, 1e-6f, b16);
    EXPECT_TRUE(same_bytes(b16, converted(f32, DType::BF16))) << "rmsnorm";
  }
#endif
}

TEST(LeanIoCuda, LinearBf16OutputAndInputEqualTheF32PathPlusConversion) {
  QDIT_REQUIRE_GPU();
#ifdef QDIT_WITH_CUDA
  const int64_t t = 37, k = 256, n = 96;
  for (SchemeId scheme : {SchemeId::W8A8Dynamic, SchemeId::W4A4Dynamic, SchemeId::W4A8Dynamic, SchemeId::W8A8,
                          SchemeId::Float, SchemeId::W8A16}) {
    SCOPED_TRACE(scheme_name(scheme));
    [[maybe_unused]] GpuScratch scratch;
    Rng rng(50 + static_cast<int>(scheme));
    QuantLinear w = layer_on_gpu(scheme, n, k, rng);
    const ops::Precision p = ops::Precision::BF16;
    // Input values that bf16 represents exactly, so that the BF16 x and the F32 x carry the same numbers.
    Tensor x32 = converted(converted(to_gpu(random_normal_f32({t, k}, rng, 0.3, 2.0)), DType::BF16), DType::F32);
    Tensor x16 = converted(x32, DType::BF16);
    Tensor y32 = poisoned_gpu({t, n}, DType::F32), y16 = poisoned_gpu({t, n}, DType::BF16);
    ops::linear(x32, w, y32, p);
    ops::linear(x32, w, y16, p);
    EXPECT_TRUE(same_bytes(y16, converted(y32, DType::BF16))) << "BF16 y";
    Tensor y_from16 = poisoned_gpu({t, n}, DType::F32);
    ops::linear(x16, w, y_from16, p);
    EXPECT_TRUE(same_bytes(y_from16, y32)) << "BF16 x";
    // The produced-input overload writes a BF16 y too.
    const LinearInputSpec spec = ops::linear_input_spec(w, p, Device::CUDA);
    ops::LinearInput in = ops::empty_linear_input(spec, t, k, Device::CUDA);
    ops::cuda::to_linear_input(x16, in);
    Tensor y16_in = poisoned_gpu({t, n}, DType::BF16);
    ops::linear(in, w, y16_in, p);
    EXPECT_TRUE(same_bytes(y16_in, y16)) << "LinearInput -> BF16 y";
  }
#endif
}

TEST(LeanIoCuda, AttentionOnBf16TensorsEqualsTheF32Path) {
  QDIT_REQUIRE_GPU();
#ifdef QDIT_WITH_CUDA
  for (auto [lq, lk, heads, hd] : {std::tuple<int64_t, int64_t, int64_t, int64_t>{300, 300, 3, 128},
                                   {257, 512, 2, 64}}) {
    SCOPED_TRACE("Lq=" + std::to_string(lq) + " Lk=" + std::to_string(lk) + " hd=" + std::to_string(hd));
    ASSERT_EQ(ops::attention_io_dtype(Device::CUDA, ops::Precision::BF16, hd), DType::BF16);
    [[maybe_unused]] GpuScratch scratch;
    Rng rng(1000 + hd);
    const int64_t d = heads * hd;
    Tensor q = to_gpu(random_normal_f32({lq, d}, rng, 0, 1)), k = to_gpu(random_normal_f32({lk, d}, rng, 0, 1)),
           v = to_gpu(random_normal_f32({lk, d}, rng, 0, 1));
    const float scale = static_cast<float>(1.0 / std::sqrt(double(hd)));
    Tensor o32 = poisoned_gpu({lq, d}, DType::F32), o16 = poisoned_gpu({lq, d}, DType::BF16);
    ops::attention(q, k, v, heads, scale, o32, ops::Precision::BF16);
    const Tensor q16 = converted(q, DType::BF16), k16 = converted(k, DType::BF16), v16 = converted(v, DType::BF16);
    ops::attention(q16, k16, v16, heads, scale, o16, ops::Precision::BF16);
    EXPECT_TRUE(same_bytes(converted(o16, DType::F32), o32)) << "all BF16";
    Tensor mixed = poisoned_gpu({lq, d}, DType::F32);
    ops::attention(q16, k, v16, heads, scale, mixed, ops::Precision::BF16);
    EXPECT_TRUE(same_bytes(mixed, o32)) << "BF16 q/v, F32 k, F32 out";
  }
#endif
}

TEST(LeanIoCuda, Bf16RefusedWhereTheKernelTakesF32) {
  QDIT_REQUIRE_GPU();
#ifdef QDIT_WITH_CUDA
  [[maybe_unused]] GpuScratch scratch;
  Rng rng(5);
  // Attention at head_dim 16 runs our fp32 kernel: BF16 tensors are an error, not a silent conversion.
  ASSERT_EQ(ops::attention_io_dtype(Device::CUDA, ops::Precision::BF16, 16), DType::F32);
  Tensor q16 = converted(to_gpu(random_normal_f32({8, 32}, rng)), DType::BF16);
  Tensor o = ops::empty({8, 32}, DType::F32, Device::CUDA);
  EXPECT_THROW(ops::attention(q16, q16, q16, 2, 0.25f, o, ops::Precision::BF16), Error);
  // linear with a BF16 y at FP32 precision.
  QuantLinear w = layer_on_gpu(SchemeId::W8A8Dynamic, 16, 32, rng);
  Tensor x = to_gpu(random_normal_f32({8, 32}, rng));
  Tensor y16 = ops::empty({8, 16}, DType::BF16, Device::CUDA);
  EXPECT_THROW(ops::linear(x, w, y16, ops::Precision::FP32), Error);
#endif
}

// On the CPU there is no BF16 activation: each op names the argument and the dtypes it takes.
TEST(LeanIo, CpuRefusesBf16Activations) {
  Rng rng(6);
  Tensor x = random_normal_f32({4, 8}, rng), w = random_normal_f32({8}, rng, 1.0, 0.1);
  Tensor out16 = Tensor::empty({4, 8}, DType::BF16);
  try {
    ops::rmsnorm(x, w, 1e-6f, out16);
    FAIL() << "rmsnorm into BF16 on the CPU was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rmsnorm"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("BF16"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ops::attention_io_dtype(Device::CPU, ops::Precision::BF16, 128), DType::F32);
  Tensor o = Tensor::empty({4, 8}, DType::F32);
  EXPECT_THROW(ops::attention(out16, out16, out16, 1, 0.3f, o, ops::Precision::BF16), Error);
}

}  // namespace
}  // namespace qdit::test
