// Element-wise dtype conversions between the float formats the GEMMs and attention consume.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/internal.h"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace {

template <typename T> __device__ __forceinline__ float load_f(const T* p, int64_t i);
template <> __device__ __forceinline__ float load_f<float>(const float* p, int64_t i) { return p[i]; }
template <> __device__ __forceinline__ float load_f<__nv_bfloat16>(const __nv_bfloat16* p, int64_t i) {
  return __bfloat162float(p[i]);
}
template <> __device__ __forceinline__ float load_f<__half>(const __half* p, int64_t i) { return __half2float(p[i]); }

template <typename T> __device__ __forceinline__ void store_f(T* p, int64_t i, float v);
template <> __device__ __forceinline__ void store_f<float>(float* p, int64_t i, float v) { p[i] = v; }
template <> __device__ __forceinline__ void store_f<__nv_bfloat16>(__nv_bfloat16* p, int64_t i, float v) {
  p[i] = __float2bfloat16_rn(v);
}

template <typename S, typename D>
__global__ void convert_kernel(const S* __restrict__ src, D* __restrict__ dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    store_f<D>(dst, i, load_f<S>(src, i));
}

__global__ void round_bf16_kernel(const float* __restrict__ src, float* __restrict__ dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = __bfloat162float(__float2bfloat16_rn(src[i]));
}

template <typename S>
void convert_from(const Tensor& src, Tensor& dst, int64_t n) {
  unsigned blocks = blocks_for(n, 256);
  const S* s = static_cast<const S*>(src.raw());
  if (dst.dtype() == DType::F32)
    convert_kernel<S, float><<<blocks, 256, 0, stream()>>>(s, dst.data<float>(), n);
  else
    convert_kernel<S, __nv_bfloat16><<<blocks, 256, 0, stream()>>>(s, static_cast<__nv_bfloat16*>(dst.raw()), n);
  QDIT_CUDA_LAUNCH_CHECK("convert_kernel");
}

}  // namespace

void convert(const Tensor& src, Tensor& dst) {
  const char* op = "convert (CUDA)";
  require_device(src, op, "src");
  require_device(dst, op, "dst");
  require_shape(dst, src.shape(), op, "dst");
  if (dst.dtype() != DType::F32 && dst.dtype() != DType::BF16)
    fail_internal("convert (CUDA): unsupported destination dtype",
                  err_ctx("F32 or BF16", std::string(dtype_name(dst.dtype()))));
  int64_t n = src.numel();
  if (n == 0) return;
  switch (src.dtype()) {
    case DType::F32: convert_from<float>(src, dst, n); break;
    case DType::BF16: convert_from<__nv_bfloat16>(src, dst, n); break;
    case DType::F16: convert_from<__half>(src, dst, n); break;
    default:
      fail_internal("convert (CUDA): unsupported source dtype",
                    err_ctx("F32, BF16 or F16", std::string(dtype_name(src.dtype()))));
  }
}

void round_to_bf16(const Tensor& src, Tensor& dst) {
  const char* op = "round_to_bf16 (CUDA)";
  require_device(src, op, "src");
  require_dtype(src, DType::F32, op, "src");
  require_f32(dst, src.shape(), op, "dst");
  int64_t n = src.numel();
  if (n == 0) return;
  round_bf16_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(src.data<float>(), dst.data<float>(), n);
  QDIT_CUDA_LAUNCH_CHECK("round_bf16_kernel");
}

}  // namespace qdit::ops::cuda
