// Tensor maps for the Hopper copy engine (TMA): the descriptors the sm_90a kernels (int8 GEMM, int8-QK
// attention) load their operand tiles with.
#pragma once
#include <cuda.h>

#include <cstdint>
#include <string>

namespace qdit::ops::cuda {

// A row-major 2-D matrix of `rows` rows of `inner` elements (`elem_bytes` each), consecutive rows
// `row_stride_bytes` apart, read in boxes of box_rows x box_inner elements into 128-byte-swizzled shared memory
// (box_inner * elem_bytes must be at most 128). Elements past the matrix's edges read as zeros. A driver
// refusal (misaligned base or stride, too large a box) is an Internal error naming `what` (op and operand).
CUtensorMap tensor_map_2d_sw128(const void* base, CUtensorMapDataType type, int elem_bytes, int64_t inner,
                                int64_t rows, int64_t row_stride_bytes, int box_inner, int box_rows,
                                const std::string& what);

}  // namespace qdit::ops::cuda
