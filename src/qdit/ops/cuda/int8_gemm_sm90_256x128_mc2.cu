// The Hopper int8 GEMM instantiated for 256 x 128 tiles, 2-CTA clusters multicasting the weight tile (its own translation unit: ptxas time).
#include "qdit/ops/cuda/int8_gemm_sm90_kernel.cuh"

namespace qdit::ops::cuda::sm90_gemm {

void launch_256x128_mc2(const Int8Gemm& g, Int8Epilogue e) { launch_epilogue<128, 2, 2, 1>(g, e); }

}  // namespace qdit::ops::cuda::sm90_gemm
