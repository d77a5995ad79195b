// The GPU forward's lean activations (ForwardOptions::lean_activations: attention's q/k/v and output stored in
// bf16 where cuDNN's SDPA reads and writes bf16 anyway) give the very bytes of the F32-buffer forward with its
// separate conversion passes, for every scheme, on
//  - models with head_dim 64 (the cuDNN path, where the bf16 buffers are used; Wan's own is 128), and
//  - the tiny test configs (head_dim 16-24: attention's buffers stay F32, the FFN's scratch hidden is checked);
// and the msModelSlim Wan recipe (W8A8_DYNAMIC blocks, ffn.down in float) on the lean path stays within the
// 1e-2 budget of the float64 reference. Skipped, visibly, without a CUDA build or a GPU.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>

#include "forward/reference_f64.h"
#include "forward/tiny_model.h"
#include "ops/cuda_test_util.h"

namespace qdit::wan {
namespace {

using testing::Variant;

// bf16_hidden: ForwardOptions::bf16_ffn_hidden, which changes results by design; off where the lean buffers are
// proven bit-identical, on (the default) where the lean path is held to the float64 budget.
std::vector<double> gpu_forward(const WanWeights& host_weights, const WanInputs& in, ops::Precision p, bool lean,
                                bool bf16_hidden = false) {
  test::GpuScratch scratch;
  const WanWeights gpu = weights_to_device(host_weights, Device::CUDA);
  ForwardOptions o;
  o.device = Device::CUDA;
  o.precision = p;
  o.lean_activations = lean;
  o.bf16_ffn_hidden = bf16_hidden;
  return ref::to_doubles(wan_forward(gpu, in, o));
}

bool same_values(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// A tiny model of variant `v` with head_dim 64 (2 heads of 64, F = 160), blocks quantized per `choose`.
testing::SchemeModel head64_model(const std::function<SchemeId(const std::string&)>& choose, uint64_t seed,
                                  Variant v = Variant::T2V_21) {
  WanConfig c = testing::tiny_config(v);
  c.dim = 128, c.num_heads = 2, c.ffn_dim = 160;
  testing::SchemeModel m;
  m.float_model = testing::random_float_weights(c, seed);
  m.inputs = testing::random_inputs(c, testing::InputSpec{}, seed + 1);
  m.quantized = testing::quantize_model(m.float_model, choose, testing::calibrate(m.float_model, m.inputs));
  return m;
}

bool is_block(const std::string& n) { return n.rfind("blocks.", 0) == 0; }
bool is_ffn_down(const std::string& n) { return n.find("ffn.down") != std::string::npos; }

constexpr SchemeId kSchemes[] = {SchemeId::Float,       SchemeId::W8A8,  SchemeId::W8A8Dynamic,
                                 SchemeId::W4A4Dynamic, SchemeId::W8A16, SchemeId::W4A8Dynamic};

TEST(LeanActivationsCuda, Head64EverySchemeBitIdenticalToF32Buffers) {
  QDIT_REQUIRE_GPU();
  ASSERT_EQ(ops::attention_io_dtype(Device::CUDA, ops::Precision::BF16, 64), DType::BF16)
      << "head_dim 64 at BF16 must take the bf16 path, or this test proves nothing";
  for (SchemeId s : kSchemes) {
    SCOPED_TRACE(scheme_name(s));
    const auto m = head64_model([&](const std::string& n) { return is_block(n) ? s : SchemeId::Float; }, 61);
    for (ops::Precision p : {ops::Precision::BF16, ops::Precision::FP32}) {
      SCOPED_TRACE(p == ops::Precision::BF16 ? "BF16" : "FP32");
      const std::vector<double> lean = gpu_forward(m.quantized, m.inputs, p, true);
      const std::vector<double> f32 = gpu_forward(m.quantized, m.inputs, p, false);
      EXPECT_TRUE(same_values(lean, f32)) << "rel_l2 " << ref::rel_l2(lean, f32);
    }
  }
}

// I2V: the image cross-attention reads the bf16 q and k/v and writes F32 (its output is summed with the text
// attention's in fp32), the text attention's output F32 too.
TEST(LeanActivationsCuda, Head64ImageBranchMixedSchemesBitIdenticalToF32Buffers) {
  QDIT_REQUIRE_GPU();
  int next = 0;
  const auto m = head64_model([&](const std::string&) { return kSchemes[next++ % 6]; }, 91, Variant::I2V_21);
  const std::vector<double> lean = gpu_forward(m.quantized, m.inputs, ops::Precision::BF16, true);
  const std::vector<double> f32 = gpu_forward(m.quantized, m.inputs, ops::Precision::BF16, false);
  EXPECT_TRUE(same_values(lean, f32)) << "rel_l2 " << ref::rel_l2(lean, f32);
}

TEST(LeanActivationsCuda, TinyVariantsMixedSchemesBitIdenticalToF32Buffers) {
  QDIT_REQUIRE_GPU();
  for (Variant v : {Variant::T2V_21, Variant::I2V_21, Variant::TI2V_22, Variant::A14B_22}) {
    SCOPED_TRACE(testing::variant_name(v));
    int next = 0;
    const auto m = testing::build_scheme_model(v, [&](const std::string&) { return kSchemes[next++ % 6]; }, 71);
    const std::vector<double> lean = gpu_forward(m.quantized, m.inputs, ops::Precision::BF16, true);
    const std::vector<double> f32 = gpu_forward(m.quantized, m.inputs, ops::Precision::BF16, false);
    EXPECT_TRUE(same_values(lean, f32)) << "rel_l2 " << ref::rel_l2(lean, f32);
  }
}

TEST(LeanActivationsCuda, WanRecipeOnTheLeanPathWithinBudget) {
  QDIT_REQUIRE_GPU();
  const auto m = head64_model(
      [](const std::string& n) {
        return is_block(n) && !is_ffn_down(n) ? SchemeId::W8A8Dynamic : SchemeId::Float;
      },
      81);
  ASSERT_EQ(m.quantized.blocks.at(0).ffn_down.scheme, SchemeId::Float);
  ASSERT_EQ(m.quantized.blocks.at(0).ffn_up.scheme, SchemeId::W8A8Dynamic);
  const std::vector<double> ref = ref::reference_forward(m.quantized, m.inputs);
  const std::vector<double> lean = gpu_forward(m.quantized, m.inputs, ops::Precision::BF16, true);
  const std::vector<double> lean_bf16_hidden = gpu_forward(m.quantized, m.inputs, ops::Precision::BF16, true, true);
  const double err = ref::rel_l2(lean, ref), err_hidden = ref::rel_l2(lean_bf16_hidden, ref);
  std::printf("GPU lean bf16, head_dim 64, W8A8_DYNAMIC + float ffn.down vs float64: %.3g, with the bf16 FFN hidden "
              "%.3g\n",
              err, err_hidden);
  EXPECT_LT(err, 1e-2);
  EXPECT_LT(err_hidden, 1e-2);
  EXPECT_GT(ref::rel_l2(lean_bf16_hidden, lean), 1e-7) << "the bf16 FFN hidden was not taken";
  EXPECT_GT(err, 1e-5) << "a bf16 run that stayed fp32 would pass the budget too";
}

}  // namespace
}  // namespace qdit::wan
