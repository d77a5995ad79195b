#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "qdit/bench/random_fill_cuda.h"
#include "qdit/bench/random_hash.h"
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/runtime.h"

namespace qdit::bench::cuda {

namespace {

__global__ void uniform_float_kernel(void* p, int64_t n, int kind, float lo, float hi, uint64_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float v = __fadd_rn(lo, __fmul_rn(hi - lo, unit_float(seed, static_cast<uint64_t>(i))));
    if (kind == 0)
      static_cast<float*>(p)[i] = v;
    else if (kind == 1)
      static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
    else
      static_cast<__half*>(p)[i] = __float2half_rn(v);
  }
}

__global__ void uniform_int_kernel(void* p, int64_t n, int bytes, int lo, int hi, uint64_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int v = uniform_int(seed, static_cast<uint64_t>(i), lo, hi);
    if (bytes == 1)
      static_cast<int8_t*>(p)[i] = static_cast<int8_t>(v);
    else
      static_cast<int32_t*>(p)[i] = v;
  }
}

}  // namespace

void fill_uniform_float(void* p, int64_t n, int kind, float lo, float hi, uint64_t seed) {
  if (n == 0) return;
  uniform_float_kernel<<<ops::cuda::blocks_for(n, 256), 256, 0, ops::cuda::stream()>>>(p, n, kind, lo, hi, seed);
  QDIT_CUDA_LAUNCH_CHECK("uniform_float_kernel");
}

void fill_uniform_int(void* p, int64_t n, int bytes, int lo, int hi, uint64_t seed) {
  if (n == 0) return;
  uniform_int_kernel<<<ops::cuda::blocks_for(n, 256), 256, 0, ops::cuda::stream()>>>(p, n, bytes, lo, hi, seed);
  QDIT_CUDA_LAUNCH_CHECK("uniform_int_kernel");
}

}  // namespace qdit::bench::cuda
