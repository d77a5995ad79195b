// The forward with int8 q.k^T in self-attention (ForwardOptions::self_attention_qk = AttentionQk::Int8, and Int8E4m3Pv with P.V in e4m3; the
// kernel: ops/cuda/attention_int8.h) on a tiny model with Wan's head_dim 128, against the float64 reference:
// the msModelSlim Wan recipe (W8A8_DYNAMIC blocks, ffn.down in float) stays within the 1e-2 budget of the CUDA
// issue, the result differs from the bf16-attention forward (the option is really taken), and the option is
// refused where the kernel does not exist (CPU, head_dim other than 128, FP32). Skipped, visibly, without a CUDA
// build or a GPU.
#include <gtest/gtest.h>

#include <cstdio>

#include "forward/reference_f64.h"
#include "forward/tiny_model.h"
#include "ops/cuda_test_util.h"

namespace qdit::wan {
namespace {

bool is_block(const std::string& n) { return n.rfind("blocks.", 0) == 0; }
bool is_ffn_down(const std::string& n) { return n.find("ffn.down") != std::string::npos; }

// A tiny T2V model with 2 heads of 128 (Wan's head_dim) quantized by the Wan recipe, and 24x24 latent tokens' worth
// of inputs from the test defaults.
testing::SchemeModel head128_recipe_model(uint64_t seed) {
  WanConfig c = testing::tiny_config(testing::Variant::T2V_21);
  c.dim = 256, c.num_heads = 2, c.ffn_dim = 320;
  testing::SchemeModel m;
  m.float_model = testing::random_float_weights(c, seed);
  m.inputs = testing::random_inputs(c, testing::InputSpec{}, seed + 1);
  m.quantized = testing::quantize_model(
      m.float_model,
      [](const std::string& n) { return is_block(n) && !is_ffn_down(n) ? SchemeId::W8A8Dynamic : SchemeId::Float; },
      testing::calibrate(m.float_model, m.inputs));
  return m;
}

std::vector<double> gpu_forward(const WanWeights& host, const WanInputs& in, ops::AttentionQk qk) {
  test::GpuScratch scratch;
  const WanWeights gpu = weights_to_device(host, Device::CUDA);
  ForwardOptions o;
  o.device = Device::CUDA;
  o.precision = ops::Precision::BF16;
  o.self_attention_qk = qk;
  return ref::to_doubles(wan_forward(gpu, in, o));
}

TEST(AttentionInt8ForwardCuda, WanRecipeWithInt8SelfAttentionWithinBudget) {
  QDIT_REQUIRE_GPU();
  const auto m = head128_recipe_model(91);
  const std::vector<double> ref = ref::reference_forward(m.quantized, m.inputs);
  const std::vector<double> bf16 = gpu_forward(m.quantized, m.inputs, ops::AttentionQk::AsPrecision);
  const std::vector<double> int8 = gpu_forward(m.quantized, m.inputs, ops::AttentionQk::Int8);
  const std::vector<double> e4m3 = gpu_forward(m.quantized, m.inputs, ops::AttentionQk::Int8E4m3Pv);
  const double err_bf16 = ref::rel_l2(bf16, ref), err_int8 = ref::rel_l2(int8, ref), err_e4m3 = ref::rel_l2(e4m3, ref);
  std::printf("GPU head_dim 128, W8A8_DYNAMIC + float ffn.down vs float64: bf16 attention %.3g, int8 q.k^T %.3g, "
              "int8 q.k^T + e4m3 P.V %.3g\n",
              err_bf16, err_int8, err_e4m3);
  EXPECT_LT(err_int8, 1e-2);
  EXPECT_LT(err_e4m3, 1e-2);
  EXPECT_GT(ref::rel_l2(int8, bf16), 1e-6) << "the int8 kernel was not used";
  EXPECT_GT(ref::rel_l2(e4m3, int8), 1e-6) << "the e4m3 P.V kernel was not used";
}

TEST(AttentionInt8ForwardCuda, RefusedWhereTheKernelDoesNotExist) {
  QDIT_REQUIRE_GPU();
  const auto m = head128_recipe_model(93);
  ForwardOptions cpu;
  cpu.self_attention_qk = ops::AttentionQk::Int8;  // CPU, FP32
  EXPECT_THROW(wan_forward(m.quantized, m.inputs, cpu), Error);
  // A tiny model with head_dim 16-24 on the GPU.
  const auto tiny = testing::random_float_weights(testing::tiny_config(testing::Variant::T2V_21), 95);
  const auto tiny_in = testing::random_inputs(tiny.config, testing::InputSpec{}, 96);
  test::GpuScratch scratch;
  const WanWeights gpu = weights_to_device(tiny, Device::CUDA);
  ForwardOptions o;
  o.device = Device::CUDA;
  o.precision = ops::Precision::BF16;
  o.self_attention_qk = ops::AttentionQk::Int8;
  EXPECT_THROW(wan_forward(gpu, tiny_in, o), Error);
}

}  // namespace
}  // namespace qdit::wan
