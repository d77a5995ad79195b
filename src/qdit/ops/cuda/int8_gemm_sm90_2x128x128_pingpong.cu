// The Hopper int8 GEMM as a ping-pong of 128 x 128 tiles (each consumer warpgroup owns its tiles, so one stores
// while the other multiplies); its own translation unit for ptxas time.
#include "qdit/ops/cuda/int8_gemm_sm90_kernel.cuh"

namespace qdit::ops::cuda::sm90_gemm {

void launch_2x128x128_pingpong(const Int8Gemm& g, Int8Epilogue e) { launch_epilogue<128, 2, 1, 2>(g, e); }

}  // namespace qdit::ops::cuda::sm90_gemm
