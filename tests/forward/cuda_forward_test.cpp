// The same whole-model checks on the GPU: weights copied with weights_to_device, the device-neutral forward run
// on Device::CUDA, compared with the float64 reference (FP32 < 1e-4, BF16 < 1e-2; int4 activations bounded as
// in schemes_test.cpp). Skipped, visibly, without a CUDA build or GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>

#include "forward/reference_f64.h"
#include "forward/tiny_model.h"
#include "ops/cuda_test_util.h"

namespace qdit::wan {
namespace {

using testing::Variant;

double gpu_vs_reference(const WanWeights& host_weights, const WanInputs& in, ops::Precision p) {
  test::GpuScratch scratch;  // the uploaded weights go back to the arena when the check ends
  const WanWeights gpu = weights_to_device(host_weights, Device::CUDA);
  EXPECT_EQ(gpu.blocks[0].ffn_up.weight.device(), Device::CUDA);
  ForwardOptions o;
  o.device = Device::CUDA;
  o.precision = p;
  const Tensor out = wan_forward(gpu, in, o);
  EXPECT_EQ(out.device(), Device::CPU);
  return ref::rel_l2(ref::to_doubles(out), ref::reference_forward(host_weights, in));
}

TEST(CudaForward, EveryVariantMatchesReference) {
  QDIT_REQUIRE_GPU();
  for (Variant v : {Variant::T2V_21, Variant::I2V_21, Variant::TI2V_22, Variant::A14B_22}) {
    const WanConfig cfg = testing::tiny_config(v);
    const WanWeights w = testing::random_float_weights(cfg, 11);
    testing::InputSpec spec;
    if (v == Variant::TI2V_22) spec.per_token = [](int64_t f, int64_t, int64_t) { return f == 0 ? 0.0f : 917.0f; };
    const WanInputs in = testing::random_inputs(cfg, spec, 12);
    const double fp32 = gpu_vs_reference(w, in, ops::Precision::FP32);
    const double bf16 = gpu_vs_reference(w, in, ops::Precision::BF16);
    std::printf("GPU %s: fp32 %.3g, bf16 %.3g\n", testing::variant_name(v), fp32, bf16);
    EXPECT_LT(fp32, 1e-4) << testing::variant_name(v);
    EXPECT_LT(bf16, 1e-2) << testing::variant_name(v);
  }
}

TEST(CudaForward, EverySchemeAndAMixMatchReference) {
  QDIT_REQUIRE_GPU();
  constexpr SchemeId kSchemes[] = {SchemeId::W8A8, SchemeId::W8A8Dynamic, SchemeId::W4A4Dynamic, SchemeId::W8A16,
                                   SchemeId::W4A8Dynamic};
  const WanConfig cfg = testing::tiny_config(Variant::I2V_21);
  const WanWeights w = testing::random_float_weights(cfg, 41);
  const WanInputs in = testing::random_inputs(cfg, {}, 42);
  const auto ranges = testing::calibrate(w, in);
  const Tensor float_out = wan_forward(w, in, {});
  // -1: every linear takes the next scheme in turn (all six, the float one included).
  for (int which = -1; which < 5; ++which) {
    int next = 0;
    const WanWeights q = testing::quantize_model(
        w,
        [&](const std::string& n) {
          if (which < 0) return std::array<SchemeId, 6>{SchemeId::Float, kSchemes[0], kSchemes[1], kSchemes[2],
                                                        kSchemes[3], kSchemes[4]}[next++ % 6];
          return n.rfind("blocks.", 0) == 0 ? kSchemes[which] : SchemeId::Float;
        },
        ranges);
    const bool int4_acts = which < 0 || kSchemes[which] == SchemeId::W4A4Dynamic;
    const double drift = ref::rel_l2(ref::to_doubles(wan_forward(q, in, {})), ref::to_doubles(float_out));
    const double fp32 = gpu_vs_reference(q, in, ops::Precision::FP32);
    const double bf16 = gpu_vs_reference(q, in, ops::Precision::BF16);
    const char* name = which < 0 ? "mixed" : scheme_name(kSchemes[which]);
    std::printf("GPU %-13s fp32 %.3g, bf16 %.3g (quantization drift %.3g)\n", name, fp32, bf16, drift);
    EXPECT_LT(fp32, 1e-4) << name;
    EXPECT_LT(bf16, int4_acts ? std::max(1e-2, 0.6 * drift) : 1e-2) << name;
  }
}

}  // namespace
}  // namespace qdit::wan
