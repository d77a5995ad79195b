// The Hopper int8 GEMM's host side: tensor maps for the copy engine, and the dispatch to the tile
// configurations (each built in its own translation unit, int8_gemm_sm90_<tile>.cu; the kernel itself is in
// int8_gemm_sm90_kernel.cuh).
#include <cuda.h>

#include <string>

#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/int8_gemm_sm90.h"
#include "qdit/ops/cuda/int8_gemm_sm90_kernel.cuh"
#include "qdit/ops/cuda/tensor_map.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace sm90_gemm {

CUtensorMap kmajor_map(const int8_t* p, int64_t rows, int64_t k, int box_rows, const char* which) {
  return tensor_map_2d_sw128(p, CU_TENSOR_MAP_DATA_TYPE_UINT8, 1, k, rows, k, kBK, box_rows,
                             std::string("int8_gemm (sm90) operand ") + which + " (K % 16 == 0 needed)");
}

CUtensorMap output_map(const Int8Gemm& g, int elem) {
  // A store copies bytes: only the element size matters, not whether they are float, bf16 or int32.
  const CUtensorMapDataType type = elem == 2 ? CU_TENSOR_MAP_DATA_TYPE_UINT16 : CU_TENSOR_MAP_DATA_TYPE_UINT32;
  return tensor_map_2d_sw128(g.out, type, elem, g.n, g.m, g.n * elem, 128 / elem, kStoreBoxRows,
                             "int8_gemm (sm90, TMA store) output (N * element bytes % 16 == 0 needed)");
}

}  // namespace sm90_gemm

void int8_gemm_sm90(const Int8Gemm& g, Int8Epilogue e, Int8Kernel kernel) {
  switch (kernel) {
    case Int8Kernel::Sm90Tile128x224: sm90_gemm::launch_128x224(g, e); break;
    case Int8Kernel::Sm90Tile128x224Multicast: sm90_gemm::launch_128x224_mc2(g, e); break;
    case Int8Kernel::Sm90Tile256x128: sm90_gemm::launch_256x128(g, e); break;
    case Int8Kernel::Sm90Tile256x128Multicast: sm90_gemm::launch_256x128_mc2(g, e); break;
    case Int8Kernel::Sm90PingPong2x128x128: sm90_gemm::launch_2x128x128_pingpong(g, e); break;
    case Int8Kernel::Sm90Tile256x128TmaStore: sm90_gemm::launch_256x128_tma_store(g, e); break;
    default: fail_internal("int8_gemm_sm90: not a Hopper kernel", err_ctx("an Sm90* kernel", int8_kernel_name(kernel)));
  }
  QDIT_CUDA_LAUNCH_CHECK("int8_gemm_sm90_kernel");
}

}  // namespace qdit::ops::cuda
