// The Hopper int8 GEMM instantiated for 128 x 224 tiles (its own translation unit: ptxas time).
#include "qdit/ops/cuda/int8_gemm_sm90_kernel.cuh"

namespace qdit::ops::cuda::sm90_gemm {

void launch_128x224(const Int8Gemm& g, Int8Epilogue e) { launch_epilogue<224, 1, 1, 1>(g, e); }

}  // namespace qdit::ops::cuda::sm90_gemm
