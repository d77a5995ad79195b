// The Hopper int8 GEMM instantiated for 128 x 224 tiles, 2-CTA clusters multicasting the weight tile (its own translation unit: ptxas time).
#include "qdit/ops/cuda/int8_gemm_sm90_kernel.cuh"

namespace qdit::ops::cuda::sm90_gemm {

void launch_128x224_mc2(const Int8Gemm& g, Int8Epilogue e) { launch_epilogue<224, 1, 2, 1>(g, e); }

}  // namespace qdit::ops::cuda::sm90_gemm
