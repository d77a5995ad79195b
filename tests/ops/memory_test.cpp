// ops::empty and ops::copy on the CPU, and the device checks of the dispatchers.
#include <gtest/gtest.h>

#include <cstring>

#include "ops_test_util.h"
#include "qdit/core/error.h"
#include "qdit/ops/ops.h"

namespace qdit {
namespace {

TEST(Memory, EmptyAllocatesTheShapeOnTheCpu) {
  Tensor t = ops::empty({3, 5}, DType::BF16, Device::CPU);
  EXPECT_EQ(t.shape(), (Shape{3, 5}));
  EXPECT_EQ(t.dtype(), DType::BF16);
  EXPECT_EQ(t.device(), Device::CPU);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
}

TEST(Memory, CopyDuplicatesEveryByte) {
  test_ops::Rand r(3);
  Tensor src = test_ops::uniform_f32({7, 13}, r);
  Tensor dst = test_ops::poisoned_f32({7, 13});
  ops::copy(src, dst);
  EXPECT_EQ(std::memcmp(src.raw(), dst.raw(), src.nbytes()), 0);
}

TEST(Memory, CopyRejectsMismatches) {
  Tensor src = Tensor::zeros({2, 3}, DType::F32);
  Tensor wrong_shape = Tensor::zeros({3, 2}, DType::F32);
  Tensor wrong_dtype = Tensor::zeros({2, 3}, DType::I32);
  EXPECT_THROW(ops::copy(src, wrong_shape), Error);
  EXPECT_THROW(ops::copy(src, wrong_dtype), Error);
}

TEST(Memory, MixedDevicesAreAnError) {
  float host[4] = {1, 2, 3, 4};
  // A CUDA-tagged view is never dereferenced: the dispatcher must stop before any kernel runs.
  Tensor fake_gpu = Tensor::view(host, {1, 4}, DType::F32, nullptr, Device::CUDA);
  Tensor x = Tensor::zeros({1, 4}, DType::F32);
  try {
    ops::residual_add(x, fake_gpu, Tensor());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Internal);
    EXPECT_NE(std::string(e.what()).find("different devices"), std::string::npos) << e.what();
  }
}

#ifndef QDIT_WITH_CUDA
TEST(Memory, CudaTensorsWithoutTheBackendAreAUsageError) {
  float host[4] = {1, 2, 3, 4};
  Tensor fake_gpu = Tensor::view(host, {1, 4}, DType::F32, nullptr, Device::CUDA);
  try {
    ops::silu(fake_gpu);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
  }
  EXPECT_THROW(ops::empty({2}, DType::F32, Device::CUDA), Error);
}
#endif

}  // namespace
}  // namespace qdit
