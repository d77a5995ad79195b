// GPU memory: round trips through ops::copy in every direction (including copies larger than the pinned
// staging buffers), the arena's reuse of released bytes, and argument errors.
#include <gtest/gtest.h>

#include "ops/cuda_test_util.h"
#include "util/test_util.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/arena.h"
#endif

namespace qdit::test {
namespace {

TEST(MemoryCuda, RoundTripSmallAndLarger) {
  QDIT_REQUIRE_GPU();
  Rng rng(11);
  // 40 Mi floats = 160 MiB: several staging-buffer rounds; an odd element count leaves a partial last chunk.
  for (int64_t n : {int64_t(1), int64_t(1000), int64_t(40) * 1024 * 1024 + 3}) {
    Tensor h = random_normal_f32({n}, rng);
    Tensor d = to_gpu(h);
    EXPECT_EQ(d.device(), Device::CUDA);
    Tensor d2 = ops::empty({n}, DType::F32, Device::CUDA);
    ops::copy(d, d2);
    Tensor back = to_cpu(d2);
    ASSERT_EQ(0, std::memcmp(back.raw(), h.raw(), h.nbytes())) << "n = " << n;
  }
}

TEST(MemoryCuda, IntegerDtypesSurviveUnchanged) {
  QDIT_REQUIRE_GPU();
  Tensor h = Tensor::empty({3, 5}, DType::I8);
  for (int i = 0; i < 15; ++i) h.data<int8_t>()[i] = static_cast<int8_t>(i * 17 - 128);
  Tensor back = to_cpu(to_gpu(h));
  for (int i = 0; i < 15; ++i) EXPECT_EQ(back.data<int8_t>()[i], static_cast<int8_t>(i * 17 - 128));
}

TEST(MemoryCuda, MismatchedCopyIsAnError) {
  QDIT_REQUIRE_GPU();
  Tensor h = Tensor::zeros({4}, DType::F32);
  Tensor wrong_shape = ops::empty({5}, DType::F32, Device::CUDA);
  Tensor wrong_dtype = ops::empty({4}, DType::I32, Device::CUDA);
  EXPECT_THROW(ops::copy(h, wrong_shape), Error);
  EXPECT_THROW(ops::copy(h, wrong_dtype), Error);
}

#ifdef QDIT_WITH_CUDA
TEST(MemoryCuda, ArenaReusesReleasedBytesWithoutNewMallocs) {
  QDIT_REQUIRE_GPU();
  auto pass = [] {
    ops::cuda::ArenaScope scope;
    std::vector<void*> ptrs;
    for (int64_t n : {1000, 1 << 20, 3 << 20, 77}) ptrs.push_back(ops::empty({n}, DType::F32, Device::CUDA).raw());
    return ptrs;
  };
  auto first = pass();
  auto mallocs = ops::cuda::arena_stats().device_mallocs;
  auto in_use = ops::cuda::arena_stats().in_use;
  for (int i = 0; i < 3; ++i) {
    auto again = pass();
    EXPECT_EQ(again, first) << "a released scope must hand out the same bytes again";
  }
  EXPECT_EQ(ops::cuda::arena_stats().device_mallocs, mallocs);
  EXPECT_EQ(ops::cuda::arena_stats().in_use, in_use);
  // Distinct live allocations never overlap and are 256-byte aligned.
  ops::cuda::ArenaScope scope;
  Tensor a = ops::empty({10}, DType::F32, Device::CUDA);
  Tensor b = ops::empty({10}, DType::F32, Device::CUDA);
  EXPECT_GE(static_cast<char*>(b.raw()) - static_cast<char*>(a.raw()), 40);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.raw()) % 256, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.raw()) % 256, 0u);
}

// Weights go to the persistent pool: the arena's position, bytes in use and reserved size do not move, the pool's
// bytes show up in `fixed`, and a small and a large persistent tensor hold what was written to them.
TEST(MemoryCuda, PersistentTensorsStayOutOfTheArena) {
  QDIT_REQUIRE_GPU();
  const ops::cuda::ArenaStats before = ops::cuda::arena_stats();
  Rng rng(5);
  Tensor small_h = random_normal_f32({1000}, rng);
  Tensor large_h = random_normal_f32({int64_t(17) << 20}, rng);  // 68 MiB: a pool allocation of its own
  Tensor small_d = ops::empty_persistent({1000}, DType::F32, Device::CUDA);
  Tensor large_d = ops::empty_persistent(large_h.shape(), DType::F32, Device::CUDA);
  ops::copy(small_h, small_d);
  ops::copy(large_h, large_d);
  const ops::cuda::ArenaStats after = ops::cuda::arena_stats();
  EXPECT_EQ(after.in_use, before.in_use);
  EXPECT_EQ(after.reserved, before.reserved);
  EXPECT_GE(after.fixed, before.fixed + large_h.nbytes());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small_d.raw()) % 256, 0u);
  EXPECT_EQ(0, std::memcmp(to_cpu(small_d).raw(), small_h.raw(), small_h.nbytes()));
  EXPECT_EQ(0, std::memcmp(to_cpu(large_d).raw(), large_h.raw(), large_h.nbytes()));
  // The CPU form is plain host memory.
  EXPECT_EQ(ops::empty_persistent({3}, DType::F32, Device::CPU).device(), Device::CPU);
}
#endif

}  // namespace
}  // namespace qdit::test
