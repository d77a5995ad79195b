// The easy-to-miss details of wan-dit.md §3.9 checked one by one against hand-computed values, plus the
// forward's contracts (observer, progress, device copies) and its errors on bad inputs and weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "forward/reference_f64.h"
#include "forward/tiny_model.h"
#include "qdit/core/error.h"
#include "qdit/models/wan/forward/input_prep.h"
#include "qdit/models/wan/forward/tables.h"
#include "util/test_util.h"

namespace qdit::wan {
namespace {

using testing::Variant;

// --- Text: zero-padded to 512 before the MLP, all 512 keys attended -------------------------------------------

TEST(TextPadding, SevenTokensAreRunAsFiveHundredTwelve) {
  const WanConfig cfg = testing::tiny_config(Variant::T2V_21);
  const WanWeights w = testing::random_float_weights(cfg, 61);
  testing::InputSpec spec;
  spec.n_text = 7;
  const WanInputs in = testing::random_inputs(cfg, spec, 62);
  WanInputs padded = in;
  padded.encoder_hidden_states = Tensor::zeros({512, cfg.text_dim}, DType::F32);
  std::copy_n(in.encoder_hidden_states.data<float>(), 7 * cfg.text_dim, padded.encoder_hidden_states.data<float>());

  const std::vector<double> out7 = ref::to_doubles(wan_forward(w, in, {}));
  EXPECT_EQ(out7, ref::to_doubles(wan_forward(w, padded, {})));  // padding inside == padding by the caller

  // The padded keys carry Linear_2(gelu(b_1)) + b_2, not zeros: attending only the 7 valid ones is a different
  // model, far outside the fp32 budget.
  const std::vector<double> ref_padded = ref::reference_forward(w, in);
  const std::vector<double> ref_unpadded = ref::reference_forward(w, in, {.pad_text = false});
  EXPECT_LT(ref::rel_l2(out7, ref_padded), 1e-4);
  EXPECT_GT(ref::rel_l2(out7, ref_unpadded), 1e-2);
}

// --- RoPE: interleaved pairs, per-axis denominators 44/42/42 ------------------------------------------------

TEST(Rope, AxisSplitFollowsTheGeneralRule) {
  auto dims = [](int64_t hd) {
    RopeAxisDims d = rope_axis_dims(hd);
    return std::vector<int64_t>{d.t, d.h, d.w};
  };
  EXPECT_EQ(dims(128), (std::vector<int64_t>{44, 42, 42}));
  EXPECT_EQ(dims(16), (std::vector<int64_t>{8, 4, 4}));
  EXPECT_EQ(dims(20), (std::vector<int64_t>{8, 6, 6}));
  EXPECT_EQ(dims(24), (std::vector<int64_t>{8, 8, 8}));
}

TEST(Rope, TablesMatchHandComputedAngles) {
  const VideoGrid g{2, 3, 4};
  const RopeTables t = rope_tables(g, 128);
  ASSERT_EQ(t.cos.shape(), (Shape{24, 64}));
  const int64_t tok = (1 * 3 + 2) * 4 + 3;  // frame 1, row 2, column 3
  auto c = [&](int64_t p) { return t.cos.data<float>()[tok * 64 + p]; };
  auto s = [&](int64_t p) { return t.sin.data<float>()[tok * 64 + p]; };
  // Values of cos/sin(theta) computed independently (Python, float64).
  EXPECT_NEAR(c(0), 0.5403023058681398, 1e-7);     // frame axis, pair 0: theta = 1
  EXPECT_NEAR(s(0), 0.8414709848078965, 1e-7);
  EXPECT_NEAR(c(1), 0.7912577181377854, 1e-7);     // theta = 1 * 10000^(-2/44)
  EXPECT_NEAR(s(21), 0.0001519911077100947, 1e-9);  // last frame pair: 10000^(-42/44)
  EXPECT_NEAR(c(22), -0.4161468365471424, 1e-7);   // row axis starts: theta = 2
  EXPECT_NEAR(c(23), 0.2772233424973307, 1e-7);    // theta = 2 * 10000^(-2/42): own denominator 42
  EXPECT_NEAR(c(43), -0.9899924966004454, 1e-7);   // column axis starts: theta = 3
  EXPECT_NEAR(s(43), 0.1411200080598672, 1e-7);
  EXPECT_NEAR(s(63), 0.00046515471717561605, 1e-9);  // theta = 3 * 10000^(-40/42)
  // Token 0 sits at the origin: no rotation at all.
  for (int64_t p = 0; p < 64; ++p) {
    EXPECT_EQ(t.cos.data<float>()[p], 1.0f);
    EXPECT_EQ(t.sin.data<float>()[p], 0.0f);
  }
}

// --- Time sinusoid: [cos | sin], float64 arguments ------------------------------------------------------------

TEST(Sinusoid, CosFirstAndComputedInDouble) {
  const Tensor s = timestep_sinusoid({999.0, 0.0}, 256);
  ASSERT_EQ(s.shape(), (Shape{2, 256}));
  const float* r = s.data<float>();
  // An fp32 argument (999 * w_j rounded to 24 bits) would miss these by up to ~6e-5.
  EXPECT_NEAR(r[0], 0.9996498529808264, 1e-7);      // cos(999)
  EXPECT_NEAR(r[128], -0.026460752737064126, 1e-8); // sin(999)
  EXPECT_NEAR(r[1], 0.9637824785873085, 1e-7);      // cos(999 * 10000^(-1/128))
  EXPECT_NEAR(r[128 + 1], -0.26668958353881084, 1e-7);
  EXPECT_NEAR(r[127], 0.9942431641442003, 1e-7);    // cos(999 * 10000^(-127/128))
  EXPECT_NEAR(r[255], 0.10714723772701194, 1e-7);
  for (int j = 0; j < 128; ++j) {  // t = 0: cos = 1, sin = 0
    EXPECT_EQ(r[256 + j], 1.0f);
    EXPECT_EQ(r[256 + 128 + j], 0.0f);
  }
}

// --- Patchify (c, kt, kh, kw) and unpatchify (c fastest) -------------------------------------------------------

TEST(Patchify, TokenVectorsInConvWeightOrder) {
  WanConfig c = testing::tiny_config(Variant::T2V_21);
  c.in_channels = 3;
  Tensor x = Tensor::empty({3, 2, 4, 6}, DType::F32);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i);
  const Tensor t = patchify(x, c);
  ASSERT_EQ(t.shape(), (Shape{2 * 2 * 3, 12}));
  // Token (f=1, h=1, w=2) = index (1*2+1)*3+2 = 11; element c*4 + a*2 + b = x[c, 1, 2+a, 4+b].
  const float* v = t.data<float>() + 11 * 12;
  for (int64_t ch = 0; ch < 3; ++ch)
    for (int64_t a = 0; a < 2; ++a)
      for (int64_t b = 0; b < 2; ++b)
        EXPECT_EQ(v[ch * 4 + a * 2 + b], static_cast<float>(((ch * 2 + 1) * 4 + 2 + a) * 6 + 4 + b));
}

TEST(Patchify, UnpatchifyPutsChannelFastest) {
  WanConfig c = testing::tiny_config(Variant::T2V_21);
  c.out_channels = 3;
  const VideoGrid g{2, 2, 3};
  Tensor tok = Tensor::empty({12, 12}, DType::F32);
  for (int64_t i = 0; i < tok.numel(); ++i) tok.data<float>()[i] = static_cast<float>(i);
  const Tensor y = unpatchify(tok, g, c);
  ASSERT_EQ(y.shape(), (Shape{3, 2, 4, 6}));
  // y[c, f, 2h+a, 2w+b] = tokens[(f*2+h)*3+w, (a*2+b)*3 + c]: e.g. c=1, f=1, row 3 (h=1,a=1), col 4 (w=2,b=0).
  EXPECT_EQ(y.data<float>()[((1 * 2 + 1) * 4 + 3) * 6 + 4], static_cast<float>(11 * 12 + (1 * 2 + 0) * 3 + 1));
  EXPECT_EQ(y.data<float>()[0], 0.0f);
  EXPECT_EQ(y.data<float>()[1 * 2 * 4 * 6], 1.0f);  // channel 1 of token 0, patch offset (0,0)
}

// --- Timestep groups ------------------------------------------------------------------------------------------

TEST(TimestepGroups, OneGroupPerFramePerTokenOrAll) {
  const VideoGrid g{3, 2, 2};
  EXPECT_EQ(group_timesteps(qdit::test::make_tensor_f32({1}, {5}), g).values, std::vector<double>{5});
  std::vector<float> frames;
  for (int f = 0; f < 3; ++f)
    for (int i = 0; i < 4; ++i) frames.push_back(f == 0 ? 0.0f : 700.0f + f);
  EXPECT_EQ(group_timesteps(qdit::test::make_tensor_f32({12}, frames), g).values,
            (std::vector<double>{0, 701, 702}));
  std::vector<float> same(12, 3.0f);
  EXPECT_EQ(group_timesteps(qdit::test::make_tensor_f32({12}, same), g).size(), 1);
  frames[5] = 1.0f;  // one token of frame 1 differs: no longer per-frame
  EXPECT_EQ(group_timesteps(qdit::test::make_tensor_f32({12}, frames), g).size(), 12);
}

// --- Observer, progress, weights_to_device ---------------------------------------------------------------------

TEST(Observer, SeesEveryLinearInputOnceInOrder) {
  const WanConfig cfg = testing::tiny_config(Variant::I2V_21);
  const WanWeights w = testing::random_float_weights(cfg, 71);
  const WanInputs in = testing::random_inputs(cfg, {}, 72);
  std::vector<std::string> seen;
  std::map<std::string, Shape> shapes;
  std::vector<std::pair<int64_t, int64_t>> progress;
  ForwardOptions o;
  o.observer = [&](const std::string& n, const Tensor& x) {
    seen.push_back(n);
    shapes[n] = x.shape();
  };
  o.progress = [&](int64_t done, int64_t total) { progress.emplace_back(done, total); };
  wan_forward(w, in, o);
  EXPECT_EQ(seen, runtime_layer_names(cfg));
  const int64_t L = 3 * 2 * 3;
  EXPECT_EQ(shapes["patch_embed"], (Shape{L, cfg.in_channels * 4}));
  EXPECT_EQ(shapes["time.fc1"], (Shape{1, 256}));
  EXPECT_EQ(shapes["text.fc1"], (Shape{512, cfg.text_dim}));
  EXPECT_EQ(shapes["image.fc1"], (Shape{257, cfg.image_dim}));
  EXPECT_EQ(shapes["blocks.1.cross_attn.kv"], (Shape{512, cfg.dim}));
  EXPECT_EQ(shapes["blocks.1.cross_attn.kv_img"], (Shape{257, cfg.dim}));
  EXPECT_EQ(shapes["blocks.1.ffn.down"], (Shape{L, cfg.ffn_dim}));
  EXPECT_EQ(progress, (std::vector<std::pair<int64_t, int64_t>>{{1, 2}, {2, 2}}));
}

TEST(WeightsToDevice, CpuToCpuSharesEveryTensor) {
  const WanWeights w = testing::random_float_weights(testing::tiny_config(Variant::I2V_21), 81);
  const WanWeights d = weights_to_device(w, Device::CPU);
  EXPECT_EQ(d.patch_embed.weight.raw(), w.patch_embed.weight.raw());
  EXPECT_EQ(d.image_norm_out_b.raw(), w.image_norm_out_b.raw());
  EXPECT_EQ(d.blocks[1].cross_kv_img.bias.raw(), w.blocks[1].cross_kv_img.bias.raw());
  EXPECT_EQ(d.blocks[1].modulation.raw(), w.blocks[1].modulation.raw());
  EXPECT_FALSE(d.blocks[0].self_qkv.weight_scale.defined());
}

// --- Errors: bad inputs and inconsistent weights never crash --------------------------------------------------

void expect_input_error(const WanWeights& w, const WanInputs& in, const std::string& tensor) {
  try {
    wan_forward(w, in, {});
    ADD_FAILURE() << "no error for a bad '" << tensor << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Checkpoint) << e.what();
    EXPECT_EQ(e.context().tensor, tensor) << e.what();
    EXPECT_FALSE(e.context().expected.empty()) << e.what();
  }
}

TEST(Errors, BadInputsNameTheTensor) {
  const WanConfig cfg = testing::tiny_config(Variant::T2V_21);
  const WanWeights w = testing::random_float_weights(cfg, 91);
  const WanInputs good = testing::random_inputs(cfg, {}, 92);
  qdit::test::Rng rng(93);
  WanInputs in = good;
  in.hidden_states = qdit::test::random_normal_f32({cfg.in_channels + 1, 3, 4, 6}, rng);
  expect_input_error(w, in, "hidden_states");
  in = good;
  in.hidden_states = qdit::test::random_normal_f32({cfg.in_channels, 3, 5, 6}, rng);  // odd height
  expect_input_error(w, in, "hidden_states");
  in = good;
  in.hidden_states = Tensor::zeros({cfg.in_channels, 3, 4, 6}, DType::I64);
  expect_input_error(w, in, "hidden_states");
  in = good;
  in.timestep = qdit::test::make_tensor_f32({2}, {1, 2});
  expect_input_error(w, in, "timestep");
  in = good;
  in.timestep = qdit::test::make_tensor_f32({1}, {NAN});
  expect_input_error(w, in, "timestep");
  in = good;
  in.timestep = Tensor();
  expect_input_error(w, in, "timestep");
  in = good;
  in.encoder_hidden_states = qdit::test::random_normal_f32({513, cfg.text_dim}, rng);
  expect_input_error(w, in, "encoder_hidden_states");
  in = good;
  in.encoder_hidden_states = qdit::test::random_normal_f32({7, cfg.text_dim + 1}, rng);
  expect_input_error(w, in, "encoder_hidden_states");
  in = good;
  in.encoder_hidden_states_image = qdit::test::random_normal_f32({257, 1280}, rng);  // T2V has no image branch
  expect_input_error(w, in, "encoder_hidden_states_image");

  const WanConfig icfg = testing::tiny_config(Variant::I2V_21);
  const WanWeights iw = testing::random_float_weights(icfg, 94);
  WanInputs iin = testing::random_inputs(icfg, {}, 95);
  iin.encoder_hidden_states_image = Tensor();
  expect_input_error(iw, iin, "encoder_hidden_states_image");
  iin.encoder_hidden_states_image = qdit::test::random_normal_f32({256, icfg.image_dim}, rng);
  expect_input_error(iw, iin, "encoder_hidden_states_image");
}

TEST(Errors, InconsistentWeightsNameTheLayer) {
  const WanConfig cfg = testing::tiny_config(Variant::T2V_21);
  const WanInputs in = testing::random_inputs(cfg, {}, 101);
  WanWeights w = testing::random_float_weights(cfg, 102);
  w.blocks[1].ffn_down.bias = Tensor::zeros({cfg.dim + 1}, DType::F32);
  try {
    wan_forward(w, in, {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Checkpoint);
    EXPECT_EQ(e.context().layer, "blocks.1.ffn.down.bias") << e.what();
  }
  w = testing::random_float_weights(cfg, 102);
  w.blocks.pop_back();
  EXPECT_THROW(wan_forward(w, in, {}), Error);
  w = testing::random_float_weights(cfg, 102);
  w.blocks[0].self_qkv = testing::quantize_linear(w.blocks[0].self_qkv.weight, Tensor(), SchemeId::W8A8Dynamic);
  w.blocks[0].self_qkv.weight_scale = Tensor();
  EXPECT_THROW(wan_forward(w, in, {}), Error);
}

}  // namespace
}  // namespace qdit::wan
