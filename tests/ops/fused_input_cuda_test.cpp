// The fused producers on the GPU (LayerNorm and GELU writing the next linear layer's input form, RMSNorm+RoPE
// in one kernel) against
//  1. the unfused GPU sequence (F32 op, then the stand-alone convert / quantize_per_token / quantize_static, or
//     rmsnorm then rope): bit for bit, int8 values, bf16 values and per-token scales;
//  2. a float64 evaluation written here (LayerNorm / GELU / RMSNorm+RoPE in double, then the format's
//     quantization of the double values): within one quantization step / the rounding of bf16;
// and ops::linear on a produced input against ops::linear on the F32 tensor, for every scheme (bit for bit).
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>

#include "ops/cuda_layers.h"
#include "ops/cuda_test_util.h"
#include "ops/layernorm_ref.h"
#include "util/test_util.h"
#include "util/activation_ref.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/internal.h"
#endif

namespace qdit::test {
namespace {

#ifdef QDIT_WITH_CUDA
using ops::LinearInputForm;
using ops::LinearInputSpec;

LinearInputSpec spec_of(LinearInputForm f, int qmin = 0, int qmax = 0, float scale = 0, float offset = 0) {
  LinearInputSpec s;
  s.form = f;
  s.qmin = qmin;
  s.qmax = qmax;
  s.input_scale = scale;
  s.input_offset = offset;
  return s;
}

std::vector<LinearInputSpec> all_forms() {
  return {spec_of(LinearInputForm::F32), spec_of(LinearInputForm::BF16),
          spec_of(LinearInputForm::Int8PerToken, -128, 127), spec_of(LinearInputForm::Int8PerToken, -8, 7),
          spec_of(LinearInputForm::Int8Static, 0, 0, 0.021f, 3.0f)};
}

// The produced input against float64 values `ref` ([T,K]) put through the form's formula in double.
void expect_form_matches_ref(const ops::LinearInput& got_dev, const std::vector<double>& ref, int64_t t, int64_t k) {
  const LinearInputSpec& s = got_dev.spec;
  Tensor got = to_cpu(got_dev.values);
  if (s.form == LinearInputForm::F32) {
    EXPECT_LT(rel_l2(got, ref), 2e-6);
    return;
  }
  if (s.form == LinearInputForm::BF16) {
    for (int64_t i = 0; i < t * k; ++i)
      ASSERT_LE(std::fabs(element_as_double(got, i) - ref[i]), std::fabs(ref[i]) * 0x1p-8 + 1e-6) << "element " << i;
    return;
  }
  Tensor scales = s.form == LinearInputForm::Int8PerToken ? to_cpu(got_dev.token_scale) : Tensor();
  int64_t off_by_one = 0;
  for (int64_t r = 0; r < t; ++r) {
    double step = s.input_scale, offset = s.input_offset;
    if (s.form == LinearInputForm::Int8PerToken) {
      double m = 0;
      for (int64_t i = 0; i < k; ++i) m = std::max(m, std::fabs(ref[r * k + i]));
      step = std::max(m / s.qmax, double(FLT_EPSILON));
      offset = 0;
      EXPECT_NEAR(scales.data<float>()[r], step, step * 1e-5) << "token scale of row " << r;
    }
    const double lo = s.form == LinearInputForm::Int8PerToken ? s.qmin : -128, hi = s.form == LinearInputForm::Int8PerToken ? s.qmax : 127;
    for (int64_t i = 0; i < k; ++i) {
      const double q = std::min(hi, std::max(lo, std::nearbyint(ref[r * k + i] / step + offset)));
      const double d = std::fabs(got.data<int8_t>()[r * k + i] - q);
      ASSERT_LE(d, 1.0) << "row " << r << " element " << i;
      off_by_one += d > 0;
    }
  }
  // fp32 vs float64 statistics move a value across a rounding boundary only when it sits within ~1e-6 of one.
  EXPECT_LE(off_by_one, 1 + t * k / 1000) << "values one step away from the float64 quantization";
}

// The unfused sequence: the F32 result, then the stand-alone conversion pass.
ops::LinearInput unfused_form(const Tensor& f32_dev, const LinearInputSpec& spec) {
  ops::LinearInput in = ops::empty_linear_input(spec, f32_dev.dim(0), f32_dev.dim(1), Device::CUDA);
  ops::cuda::to_linear_input(f32_dev, in);
  return in;
}

// misalign: x is a view one float into a larger buffer (the unstaged kernel's rule).
void check_layernorm(int64_t t, int64_t d, int mode, int64_t groups, bool misalign, uint64_t seed) {
  SCOPED_TRACE("T=" + std::to_string(t) + " D=" + std::to_string(d) + " mode=" + std::to_string(mode) +
               " groups=" + std::to_string(groups) + (misalign ? " misaligned" : ""));
  [[maybe_unused]] GpuScratch scratch;
  const auto [x, a, b, ref] = random_layernorm_case(t, d, mode, groups, seed);
  Tensor xd;
  if (misalign) {
    Tensor big = ops::empty({t * d + 1}, DType::F32, Device::CUDA);
    xd = Tensor::view(static_cast<float*>(big.raw()) + 1, {t, d}, DType::F32, big.holder(), Device::CUDA);
    ops::copy(x, xd);
  } else {
    xd = to_gpu(x);
  }
  const Tensor none;
  ops::Modulation mod;
  Tensor w, bias;
  if (mode == 1) mod = {to_gpu(a), to_gpu(b)};
  if (mode == 2) w = to_gpu(a), bias = to_gpu(b);
  const ops::Modulation* m = mode == 1 ? &mod : nullptr;
  Tensor f32 = poisoned_gpu({t, d}, DType::F32);
  ops::layernorm(xd, w, bias, m, 1e-6f, f32);
  for (const LinearInputSpec& spec : all_forms()) {
    SCOPED_TRACE(spec.describe());
    ops::LinearInput fused = ops::empty_linear_input(spec, t, d, Device::CUDA);
    ops::copy(to_gpu([&] { Tensor p = Tensor::empty(fused.values.shape(), fused.values.dtype()); std::memset(p.raw(), 0x5A, p.nbytes()); return p; }()), fused.values);
    ops::layernorm(xd, w, bias, m, 1e-6f, fused);
    ops::LinearInput unfused = unfused_form(f32, spec);
    EXPECT_TRUE(same_bytes(fused.values, unfused.values)) << "values differ from the unfused GPU sequence";
    EXPECT_TRUE(same_bytes(fused.token_scale, unfused.token_scale)) << "scales differ from quantize_per_token";
    expect_form_matches_ref(fused, ref, t, d);
  }
}

#endif  // QDIT_WITH_CUDA

TEST(FusedInputCuda, LayerNormIntoEveryFormEqualsTheUnfusedSequence) {
  QDIT_REQUIRE_GPU();
#ifdef QDIT_WITH_CUDA
  check_layernorm(7, 5120, 0, 1, false, 1);    // Wan 14B width: the row-group kernel (4 warps a row)
  check_layernorm(33, 1536, 1, 1, false, 2);   // Wan 1.3B width, one timestep
  check_layernorm(12, 5120, 1, 3, false, 3);   // per-frame timesteps
  check_layernorm(9, 5120, 2, 1, false, 4);    // cross-attention's affine LayerNorm
  check_layernorm(6, 33, 1, 2, false, 5);      // K % 4 != 0: unstaged kernel, then the stand-alone pass
  check_layernorm(6, 1536, 1, 1, true, 6);     // misaligned rows: unstaged
  check_layernorm(3, 36864, 0, 1, false, 7);   // wider than the registers hold: unstaged
#endif
}

TEST(FusedInputCuda, GeluIntoEveryFormEqualsTheUnfusedSequence) {
  QDIT_REQUIRE_GPU();
#ifdef QDIT_WITH_CUDA
  for (auto [t, f] : {std::pair<int64_t, int64_t>{5, 13824}, {4, 50}, {3, 8960}}) {
    SCOPED_TRACE("T=" + std::to_string(t) + " F=" + std::to_string(f));
    [[maybe_unused]] GpuScratch scratch;
    Rng rng(100 + f);
    Tensor x = random_normal_f32({t, f}, rng, 0.0, 2.5);
    std::vector<double> ref(static_cast<size_t>(t * f));
    for (int64_t i = 0; i < t * f; ++i) ref[i] = gelu_tanh_f64(x.data<float>()[i]);
    Tensor xd = to_gpu(x);
    Tensor f32 = to_gpu(x);
    ops::gelu_tanh(f32);  // the in-place F32 op
    for (const LinearInputSpec& spec : all_forms()) {
      SCOPED_TRACE(spec.describe());
      ops::LinearInput fused = ops::empty_linear_input(spec, t, f, Device::CUDA);
      ops::gelu_tanh(xd, fused);
      ops::LinearInput unfused = unfused_form(f32, spec);
      EXPECT_TRUE(same_bytes(fused.values, unfused.values)) << "values differ from the unfused GPU sequence";
      EXPECT_TRUE(same_bytes(fused.token_scale, unfused.token_scale)) << "scales differ from quantize_per_token";
      // GELU in fp32 (libdevice tanhf) is within a few ulp of float64, not bit-exact: compare as the F32 form does.
      if (spec.form == LinearInputForm::F32) {
        EXPECT_LT(rel_l2(to_cpu(fused.values), ref), 1e-6);
      } else {
        expect_form_matches_ref(fused, ref, t, f);
      }
    }
    // In place: the F32 form written over its own input.
    ops::LinearInput in_place{spec_of(LinearInputForm::F32), xd, Tensor()};
    ops::gelu_tanh(xd, in_place);
    EXPECT_TRUE(same_bytes(xd, f32));
  }
#endif
}

// A bf16 FFN hidden (the lean GPU forward's ffn.up output): the producer reads it as its exact fp32 values, so
// every form equals the producer run on the widened F32 tensor, bit for bit. Shapes take the row-group kernel
// (8960, 13824), the staged kernel (36864) and the widening fallback (50: rows of no whole group of four).
TEST(FusedInputCuda, GeluFromBf16EqualsGeluFromTheWidenedF32) {
  QDIT_REQUIRE_GPU();
#ifdef QDIT_WITH_CUDA
  for (auto [t, f] : {std::pair<int64_t, int64_t>{5, 13824}, {4, 50}, {3, 8960}, {2, 36864}}) {
    SCOPED_TRACE("T=" + std::to_string(t) + " F=" + std::to_string(f));
    [[maybe_unused]] GpuScratch scratch;
    Rng rng(300 + f);
    const Tensor xb = converted(to_gpu(random_normal_f32({t, f}, rng, 0.0, 2.5)), DType::BF16);
    const Tensor xf = converted(xb, DType::F32);  // exact
    for (const LinearInputSpec& spec : all_forms()) {
      SCOPED_TRACE(spec.describe());
      ops::LinearInput from_bf16 = ops::empty_linear_input(spec, t, f, Device::CUDA);
      ops::LinearInput from_f32 = ops::empty_linear_input(spec, t, f, Device::CUDA);
      ops::gelu_tanh(xb, from_bf16);
      ops::gelu_tanh(xf, from_f32);
      EXPECT_TRUE(same_bytes(from_bf16.values, from_f32.values));
      EXPECT_TRUE(same_bytes(from_bf16.token_scale, from_f32.token_scale));
    }
  }
#endif
}

// The CPU linear takes F32 only, so a BF16 hidden on the CPU is a caller bug, refused (no GPU needed).
TEST(FusedInputCuda, GeluFromBf16IsRefusedOnTheCpu) {
#ifdef QDIT_WITH_CUDA
  Tensor x = Tensor::zeros({2, 8}, DType::BF16);
  ops::LinearInput out{spec_of(LinearInputForm::F32), Tensor::zeros({2, 8}, DType::F32), Tensor()};
  EXPECT_THROW(ops::gelu_tanh(x, out), Error);
#endif
}

#ifdef QDIT_WITH_CUDA
// Fused RMSNorm+RoPE on [t, heads * hd] bit-identical to rmsnorm then rope, and within rounding of float64.
void check_rmsnorm_rope(int64_t t, int64_t heads, int64_t hd, uint64_t seed) {
  SCOPED_TRACE("T=" + std::to_string(t) + " heads=" + std::to_string(heads) + " hd=" + std::to_string(hd));
  [[maybe_unused]] GpuScratch scratch;
  Rng rng(seed);
  const int64_t d = heads * hd, half = hd / 2;
  Tensor x = random_normal_f32({t, d}, rng, 0.2, 2.0);
  Tensor w = random_normal_f32({d}, rng, 1.0, 0.2);
  Tensor cos = Tensor::empty({t, half}, DType::F32), sin = Tensor::empty({t, half}, DType::F32);
  for (int64_t i = 0; i < t * half; ++i) {
    const double th = rng.uniform(-30, 30);
    cos.data<float>()[i] = static_cast<float>(std::cos(th));
    sin.data<float>()[i] = static_cast<float>(std::sin(th));
  }
  std::vector<double> ref(static_cast<size_t>(t * d));
  for (int64_t r = 0; r < t; ++r) {
    const float* row = x.data<float>() + r * d;
    double sq = 0;
    for (int64_t i = 0; i < d; ++i) sq += double(row[i]) * row[i];
    const double rstd = 1.0 / std::sqrt(sq / d + 1e-6);
    for (int64_t i = 0; i < d; i += 2) {
      const int64_t p = (i % hd) / 2;
      const double a = row[i] * rstd * w.data<float>()[i], b = row[i + 1] * rstd * w.data<float>()[i + 1];
      const double c = cos.data<float>()[r * half + p], s = sin.data<float>()[r * half + p];
      ref[r * d + i] = a * c - b * s;
      ref[r * d + i + 1] = a * s + b * c;
    }
  }
  Tensor fused = to_gpu(x), twice = to_gpu(x), wd = to_gpu(w), cd = to_gpu(cos), sd = to_gpu(sin);
  ops::rmsnorm_rope(fused, wd, 1e-6f, heads, cd, sd);
  ops::rmsnorm(twice, wd, 1e-6f);
  ops::rope(twice, heads, cd, sd);
  EXPECT_TRUE(same_bytes(fused, twice));
  EXPECT_LT(rel_l2(to_cpu(fused), ref), 2e-6);
}
#endif

TEST(FusedInputCuda, RmsNormRopeEqualsRmsNormThenRopeBitForBit) {
  QDIT_REQUIRE_GPU();
#ifdef QDIT_WITH_CUDA
  for (auto [t, heads, hd] : {std::tuple<int64_t, int64_t, int64_t>{9, 40, 128}, {5, 12, 128}, {4, 3, 6}})
    check_rmsnorm_rope(t, heads, hd, static_cast<uint64_t>(7 * t + heads));
#endif
}

// The row-group kernels (row_group.cuh) and the one-block-per-row kernels that still take the rows outside
// their rule: every producer stays bit-identical to its unfused sequence on both sides of the rule, with spare
// row groups in the last block, odd half head dims (a float4 whose second pair starts the next head) and rows
// too wide for the groups.
TEST(FusedInputCuda, RowGroupRuleKeepsEveryFusedFormBitIdentical) {
  QDIT_REQUIRE_GPU();
#ifdef QDIT_WITH_CUDA
  check_layernorm(5, 3072, 1, 5, false, 21);   // two rows a block, one spare group
  check_layernorm(3, 28672, 2, 1, false, 22);  // past the row groups: one block per row, staged
  check_layernorm(6, 20, 0, 1, false, 23);     // five float4 a row, one warp
  for (auto [t, heads, hd] : {std::tuple<int64_t, int64_t, int64_t>{7, 2, 14}, {3, 12, 128}, {2, 1, 30720}})
    check_rmsnorm_rope(t, heads, hd, static_cast<uint64_t>(300 + hd));
  for (auto [t, f] : {std::pair<int64_t, int64_t>{7, 1536}, {2, 28672}}) {  // GELU: spare groups; one block a row
    SCOPED_TRACE("GELU T=" + std::to_string(t) + " F=" + std::to_string(f));
    [[maybe_unused]] GpuScratch scratch;
    Rng rng(400 + f);
    Tensor x = random_normal_f32({t, f}, rng, 0.0, 2.5);
    std::vector<double> ref(static_cast<size_t>(t * f));
    for (int64_t i = 0; i < t * f; ++i) ref[i] = gelu_tanh_f64(x.data<float>()[i]);
    Tensor xd = to_gpu(x), f32 = to_gpu(x);
    ops::gelu_tanh(f32);
    for (const LinearInputSpec& spec : all_forms()) {
      SCOPED_TRACE(spec.describe());
      ops::LinearInput fused = ops::empty_linear_input(spec, t, f, Device::CUDA);
      ops::gelu_tanh(xd, fused);
      ops::LinearInput unfused = unfused_form(f32, spec);
      EXPECT_TRUE(same_bytes(fused.values, unfused.values));
      EXPECT_TRUE(same_bytes(fused.token_scale, unfused.token_scale));
      if (spec.form != LinearInputForm::F32) expect_form_matches_ref(fused, ref, t, f);
    }
  }
#endif
}

TEST(FusedInputCuda, LinearOnAProducedInputEqualsLinearOnTheF32Tensor) {
  QDIT_REQUIRE_GPU();
#ifdef QDIT_WITH_CUDA
  const int64_t t = 40, k = 1536, n = 72;
  for (SchemeId scheme : {SchemeId::W8A8Dynamic, SchemeId::W4A4Dynamic, SchemeId::W4A8Dynamic, SchemeId::W8A8,
                          SchemeId::Float, SchemeId::W8A16})
    for (ops::Precision p : {ops::Precision::FP32, ops::Precision::BF16}) {
      SCOPED_TRACE(std::string(scheme_name(scheme)) + (p == ops::Precision::BF16 ? " BF16" : " FP32"));
      [[maybe_unused]] GpuScratch scratch;
      Rng rng(31 + static_cast<int>(scheme));
      QuantLinear w = layer_on_gpu(scheme, n, k, rng);
      Tensor x = to_gpu(random_normal_f32({t, k}, rng, 0.3, 2.0));
      ops::Modulation mod{to_gpu(random_normal_f32({1, k}, rng, 0, 0.3)), to_gpu(random_normal_f32({1, k}, rng, 0, 0.3))};
      const Tensor none;
      Tensor normed = ops::empty({t, k}, DType::F32, Device::CUDA);
      ops::layernorm(x, none, none, &mod, 1e-6f, normed);
      Tensor y_ref = poisoned_gpu({t, n}, DType::F32), y = poisoned_gpu({t, n}, DType::F32);
      ops::linear(normed, w, y_ref, p);
      const LinearInputSpec spec = ops::linear_input_spec(w, p, Device::CUDA);
      ops::LinearInput in = ops::empty_linear_input(spec, t, k, Device::CUDA);
      ops::layernorm(x, none, none, &mod, 1e-6f, in);
      ops::linear(in, w, y, p);
      EXPECT_TRUE(same_bytes(y, y_ref));
      // A produced input in another form is refused.
      ops::LinearInput wrong = ops::empty_linear_input(
          spec.form == LinearInputForm::BF16 ? spec_of(LinearInputForm::F32) : spec_of(LinearInputForm::BF16), t, k,
          Device::CUDA);
      EXPECT_THROW(ops::linear(wrong, w, y, p), Error);
    }
#endif
}

}  // namespace
}  // namespace qdit::test
