// `qdit run` refuses bad flags (exit 2) and bad checkpoints or input files (exit 1) with a message naming what is
// wrong and what was expected; it never crashes.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/run_test_fixture.h"

namespace qdit::runtest {
namespace {

class RunErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    model_dir = tmp.path() + "/model";
    std::filesystem::create_directories(model_dir);
    model = write_component(model_dir, TinySpec{});
    inputs = make_inputs(model.config, 7);
    in_path = tmp.file("in.safetensors");
    out_path = tmp.file("out.safetensors");
    write_inputs(in_path, inputs);
  }

  // Runs with an input file made of `tensors`; expects exit 1 and every `needles` in stderr.
  void expect_input_error(const std::vector<std::pair<std::string, Tensor>>& tensors,
                          const std::vector<std::string>& needles) {
    const std::string in = tmp.file("bad.safetensors");
    write_safetensors(in, tensors);
    const RunResult r = run_qdit(tmp, {"run", model_dir, "--inputs", in, "--output", out_path});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    for (const std::string& n : needles) EXPECT_NE(r.err.find(n), std::string::npos) << "'" << n << "' in " << r.err;
    EXPECT_FALSE(std::filesystem::exists(out_path)) << "no output after an error";
  }

  void expect_usage_error(const std::vector<std::string>& args, const std::string& needle) {
    const RunResult r = run_qdit(tmp, args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "'" << needle << "' in " << r.err;
  }

  test::TempDir tmp;
  wan::WanWeights model;
  wan::WanInputs inputs;
  std::string model_dir, in_path, out_path;
};

TEST_F(RunErrors, BadFlagsAreUsageErrors) {
  expect_usage_error({"run", model_dir, "--output", out_path}, "--inputs");
  expect_usage_error({"run", model_dir, "--inputs", in_path}, "--output");
  expect_usage_error({"run", "--inputs", in_path, "--output", out_path}, "MODEL");
  expect_usage_error({"run", model_dir, "--inputs", in_path, "--output", out_path, "--precision", "fp16"}, "fp16");
  expect_usage_error({"run", model_dir, "--inputs", in_path, "--output", out_path, "--threads", "0"}, "--threads");
  expect_usage_error({"run", model_dir, "--inputs", in_path, "--output", out_path, "--threads", "2x"}, "--threads");
  expect_usage_error({"run", model_dir, "--inputs", in_path, "--output", out_path, "--device", "tpu"}, "tpu");
  expect_usage_error({"run", model_dir, "--inputs", in_path, "--output", out_path, "--bogus"}, "--bogus");
  expect_usage_error({"run", model_dir, "--inputs", in_path, "--output", out_path, "--self-attention-qk", "fp8"},
                     "as-precision, int8 or int8-e4m3pv");
  // The int8 attention kernels exist on CUDA at bf16 only: refused up front, before any weight is loaded.
  expect_usage_error({"run", model_dir, "--inputs", in_path, "--output", out_path, "--device", "cpu",
                      "--self-attention-qk", "int8-e4m3pv"},
                     "--device cuda");
  // ... and on a model whose heads are not 128 wide (the tiny test model's), before its weights are loaded.
  const RunResult r = run_qdit(tmp, {"run", model_dir, "--inputs", in_path, "--output", out_path, "--device", "cuda",
                                     "--self-attention-qk", "int8"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(r.err.find("head_dim 128") != std::string::npos || r.err.find("CUDA") != std::string::npos) << r.err;
  expect_usage_error({"run", model_dir, model_dir, "--inputs", in_path, "--output", out_path}, "more than one");
  const RunResult help = run_qdit(tmp, {"run", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--inputs"), std::string::npos);
}

TEST_F(RunErrors, CudaDeviceWithoutCudaOrGpuIsAUsageError) {
#ifdef QDIT_WITH_CUDA
  GTEST_SKIP() << "this build has the CUDA backend; whether a GPU is present decides (covered by the GPU suite)";
#endif
  expect_usage_error({"run", model_dir, "--inputs", in_path, "--output", out_path, "--device", "cuda"}, "CUDA");
}

TEST_F(RunErrors, MissingExtraOrMalformedInputsNameTheTensor) {
  const Tensor& x = inputs.hidden_states;
  const Tensor& t = inputs.timestep;
  const Tensor& e = inputs.encoder_hidden_states;
  test::Rng rng(3);
  expect_input_error({{"hidden_states", x}, {"encoder_hidden_states", e}}, {"timestep", "missing"});
  expect_input_error({{"hidden_states", x}, {"timestep", t}, {"encoder_hidden_states", e}, {"latents", x}},
                     {"latents", "unknown"});
  expect_input_error({{"hidden_states", x},
                      {"timestep", t},
                      {"encoder_hidden_states", e},
                      {"encoder_hidden_states_image", test::random_normal_f32({257, 1280}, rng)}},
                     {"encoder_hidden_states_image", "no image"});
  Tensor x64 = Tensor::empty(x.shape(), DType::F64);
  for (int64_t i = 0; i < x.numel(); ++i) x64.data<double>()[i] = x.data<float>()[i];
  expect_input_error({{"hidden_states", x64}, {"timestep", t}, {"encoder_hidden_states", e}},
                     {"hidden_states", "F64", "F32"});
  expect_input_error(
      {{"hidden_states", test::random_normal_f32({5, 3, 4, 6}, rng)}, {"timestep", t}, {"encoder_hidden_states", e}},
      {"hidden_states", "[5, 3, 4, 6]", "[4, T, H, W]"});
  expect_input_error(
      {{"hidden_states", test::random_normal_f32({4, 3, 5, 6}, rng)}, {"timestep", t}, {"encoder_hidden_states", e}},
      {"hidden_states", "whole patches"});
  expect_input_error(
      {{"hidden_states", x}, {"timestep", test::make_tensor_f32({2}, {1, 2})}, {"encoder_hidden_states", e}},
      {"timestep", "[2]", "[18]"});
  expect_input_error(
      {{"hidden_states", x}, {"timestep", t}, {"encoder_hidden_states", test::random_normal_f32({513, 24}, rng)}},
      {"encoder_hidden_states", "n <= 512"});
  expect_input_error(
      {{"hidden_states", x}, {"timestep", t}, {"encoder_hidden_states", test::random_normal_f32({7, 25}, rng)}},
      {"encoder_hidden_states", "[7, 25]"});
  Tensor big = Tensor::empty({1}, DType::I64);
  big.data<int64_t>()[0] = (int64_t{1} << 24) + 1;
  expect_input_error({{"hidden_states", x}, {"timestep", big}, {"encoder_hidden_states", e}}, {"timestep", "fp32"});
}

TEST_F(RunErrors, UnreadableInputsOrModelAreFileErrors) {
  test::write_text(tmp.file("garbage.safetensors"), "not a safetensors file at all");
  RunResult r =
      run_qdit(tmp, {"run", model_dir, "--inputs", tmp.path() + "/garbage.safetensors", "--output", out_path});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("garbage.safetensors"), std::string::npos) << r.err;
  r = run_qdit(tmp, {"run", model_dir, "--inputs", tmp.path() + "/nothing.safetensors", "--output", out_path});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  r = run_qdit(tmp, {"run", tmp.path() + "/no-model", "--inputs", in_path, "--output", out_path});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  // A checkpoint with a tensor of the wrong shape: the load refuses it, naming the tensor.
  write_safetensors(model_dir + "/diffusion_pytorch_model.safetensors",
                    {{"proj_out.weight", Tensor::zeros({3, 3}, DType::F32)}});
  r = run_qdit(tmp, {"run", model_dir, "--inputs", in_path, "--output", out_path});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out_path));
}

}  // namespace
}  // namespace qdit::runtest
