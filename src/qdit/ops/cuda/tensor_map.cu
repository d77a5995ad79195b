// Tensor-map encoding through the runtime's driver entry point (qdit links the runtime only, not libcuda).
#include "qdit/ops/cuda/tensor_map.h"

#include <cudaTypedefs.h>
#include <cuda_runtime.h>

#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace {
PFN_cuTensorMapEncodeTiled_v12000 encode_tiled() {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
    QDIT_CUDA_CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q));
    if (q != cudaDriverEntryPointSuccess || p == nullptr)
      fail_internal("tensor maps (sm90): the CUDA driver does not provide cuTensorMapEncodeTiled",
                    err_ctx("a driver for CUDA 12.0 or newer", "symbol not found"));
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
  }();
  return fn;
}
}  // namespace

CUtensorMap tensor_map_2d_sw128(const void* base, CUtensorMapDataType type, int elem_bytes, int64_t inner,
                                int64_t rows, int64_t row_stride_bytes, int box_inner, int box_rows,
                                const std::string& what) {
  CUtensorMap map;
  cuuint64_t dims[2] = {static_cast<cuuint64_t>(inner), static_cast<cuuint64_t>(rows)};
  cuuint64_t strides[1] = {static_cast<cuuint64_t>(row_stride_bytes)};
  cuuint32_t box[2] = {static_cast<cuuint32_t>(box_inner), static_cast<cuuint32_t>(box_rows)};
  cuuint32_t elem_strides[2] = {1, 1};
  CUresult r = encode_tiled()(&map, type, 2, const_cast<void*>(base), dims, strides, box, elem_strides,
                              CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                              CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) {
    std::string found = "[";
    found += std::to_string(rows) + " rows x " + std::to_string(inner) + " elements of " + std::to_string(elem_bytes);
    found += " bytes, stride " + std::to_string(row_stride_bytes) + "], box " + std::to_string(box_rows) + " x ";
    found += std::to_string(box_inner) + ", CUresult " + std::to_string(r);
    fail_internal("cuTensorMapEncodeTiled failed for " + what,
                  err_ctx("a 16-byte aligned base and row stride, a box of at most 128 bytes x 256 rows", found));
  }
  return map;
}

}  // namespace qdit::ops::cuda
