// The Hopper int8 GEMM's host side: tensor maps for the copy engine, and the dispatch to the tile
// configurations (each built in its own translation unit, int8_gemm_sm90_<tile>.cu; the kernel itself is in
// int8_gemm_sm90_kernel.cuh).
#include <cuda.h>
#include <cudaTypedefs.h>

#include <string>

#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/int8_gemm_sm90.h"
#include "qdit/ops/cuda/int8_gemm_sm90_kernel.cuh"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace sm90_gemm {

namespace {
PFN_cuTensorMapEncodeTiled_v12000 encode_tiled() {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
    QDIT_CUDA_CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q));
    if (q != cudaDriverEntryPointSuccess || p == nullptr)
      fail_internal("int8_gemm (sm90): the CUDA driver does not provide cuTensorMapEncodeTiled",
                    err_ctx("a driver for CUDA 12.0 or newer", "symbol not found"));
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
  }();
  return fn;
}

}  // namespace

CUtensorMap kmajor_map(const int8_t* p, int64_t rows, int64_t k, int box_rows, const char* which) {
  CUtensorMap map;
  cuuint64_t dims[2] = {static_cast<cuuint64_t>(k), static_cast<cuuint64_t>(rows)};
  cuuint64_t strides[1] = {static_cast<cuuint64_t>(k)};
  cuuint32_t box[2] = {static_cast<cuuint32_t>(kBK), static_cast<cuuint32_t>(box_rows)};
  cuuint32_t elem_strides[2] = {1, 1};
  CUresult r = encode_tiled()(&map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, const_cast<int8_t*>(p), dims, strides, box,
                              elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                              CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    fail_internal(std::string("int8_gemm (sm90): cuTensorMapEncodeTiled failed for operand ") + which,
                  err_ctx("a 16-byte aligned [rows, K] int8 matrix with K % 16 == 0",
                          "[" + std::to_string(rows) + ", " + std::to_string(k) + "], CUresult " + std::to_string(r)));
  return map;
}

}  // namespace sm90_gemm

void int8_gemm_sm90(const Int8Gemm& g, Int8Epilogue e, Int8Kernel kernel) {
  switch (kernel) {
    case Int8Kernel::Sm90Tile128x224: sm90_gemm::launch_128x224(g, e); break;
    case Int8Kernel::Sm90Tile128x224Multicast: sm90_gemm::launch_128x224_mc2(g, e); break;
    case Int8Kernel::Sm90Tile256x128: sm90_gemm::launch_256x128(g, e); break;
    case Int8Kernel::Sm90Tile256x128Multicast: sm90_gemm::launch_256x128_mc2(g, e); break;
    case Int8Kernel::Sm90PingPong2x128x128: sm90_gemm::launch_2x128x128_pingpong(g, e); break;
    default: fail_internal("int8_gemm_sm90: not a Hopper kernel", err_ctx("an Sm90* kernel", int8_kernel_name(kernel)));
  }
  QDIT_CUDA_LAUNCH_CHECK("int8_gemm_sm90_kernel");
}

}  // namespace qdit::ops::cuda
