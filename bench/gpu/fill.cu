#include "gpu/fill.h"
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/runtime.h"

namespace qdit::bench {

namespace {

__device__ __forceinline__ uint64_t mix(uint64_t z) {  // splitmix64 finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

__global__ void uniform_f32_kernel(float* p, int64_t n, float lo, float hi, uint64_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float u = static_cast<float>(mix(seed * 0x9e3779b97f4a7c15ull + i) >> 40) * (1.0f / 16777216.0f);
    p[i] = lo + (hi - lo) * u;
  }
}

__global__ void normal_f32_kernel(float* p, int64_t n, float sd, uint64_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const uint64_t r = mix(seed * 0x9e3779b97f4a7c15ull + i);
    const float u1 = (static_cast<float>(r >> 40) + 1.0f) * (1.0f / 16777216.0f);  // (0, 1]: the log is finite
    const float u2 = static_cast<float>((r >> 16) & 0xffffffu) * (1.0f / 16777216.0f);
    p[i] = sd * sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
  }
}

__global__ void uniform_i8_kernel(int8_t* p, int64_t n, int lo, int hi, uint64_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    p[i] = static_cast<int8_t>(lo + static_cast<int>(mix(seed * 0x9e3779b97f4a7c15ull + i) % uint64_t(hi - lo + 1)));
}

}  // namespace

void fill_uniform_f32(float* p, int64_t n, float lo, float hi, uint64_t seed) {
  uniform_f32_kernel<<<ops::cuda::blocks_for(n, 256), 256, 0, ops::cuda::stream()>>>(p, n, lo, hi, seed);
  QDIT_CUDA_LAUNCH_CHECK("uniform_f32_kernel");
}

void fill_normal_f32(float* p, int64_t n, float sd, uint64_t seed) {
  normal_f32_kernel<<<ops::cuda::blocks_for(n, 256), 256, 0, ops::cuda::stream()>>>(p, n, sd, seed);
  QDIT_CUDA_LAUNCH_CHECK("normal_f32_kernel");
}

void fill_uniform_i8(int8_t* p, int64_t n, int lo, int hi, uint64_t seed) {
  uniform_i8_kernel<<<ops::cuda::blocks_for(n, 256), 256, 0, ops::cuda::stream()>>>(p, n, lo, hi, seed);
  QDIT_CUDA_LAUNCH_CHECK("uniform_i8_kernel");
}

}  // namespace qdit::bench
