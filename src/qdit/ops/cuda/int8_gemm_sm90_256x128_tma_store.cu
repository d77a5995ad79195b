// The Hopper int8 GEMM with 256 x 128 tiles and the TMA-store epilogue (its own translation unit: ptxas time).
#include "qdit/ops/cuda/int8_gemm_sm90_kernel.cuh"

namespace qdit::ops::cuda::sm90_gemm {

void launch_256x128_tma_store(const Int8Gemm& g, Int8Epilogue e) { launch_epilogue<128, 2, 1, 1, true>(g, e); }

}  // namespace qdit::ops::cuda::sm90_gemm
