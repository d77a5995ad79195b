// The Hopper int8 GEMM kernels (int8_gemm_sm90.cu), launched by int8_gemm.cu's dispatcher once it has checked
// the operands (K % 16 == 0, K > 0, a and b 16-byte aligned) and the epilogue's inputs.
#pragma once
#include "qdit/ops/cuda/internal.h"

namespace qdit::ops::cuda {

// `kernel` is one of the Sm90* kinds.
void int8_gemm_sm90(const Int8Gemm& g, Int8Epilogue e, Int8Kernel kernel);

}  // namespace qdit::ops::cuda
