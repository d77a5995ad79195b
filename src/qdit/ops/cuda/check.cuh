// Error checking for CUDA runtime and cuBLASLt calls: every failure becomes a qdit::Error (Internal) naming the
// call and where it was made, so a GPU problem is never a silent wrong answer or an abort.
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <string>

#include "qdit/core/error.h"

namespace qdit::ops::cuda {

inline void check_cuda(cudaError_t e, const char* what, const char* file, int line) {
  if (e == cudaSuccess) return;
  fail_internal(std::string("CUDA error ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ") in " + what +
                " at " + file + ":" + std::to_string(line));
}

inline void check_cublas(cublasStatus_t s, const char* what, const char* file, int line) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  fail_internal(std::string("cuBLASLt error ") + std::to_string(static_cast<int>(s)) + " in " + what + " at " +
                file + ":" + std::to_string(line));
}

}  // namespace qdit::ops::cuda

#define QDIT_CUDA_CHECK(expr) ::qdit::ops::cuda::check_cuda((expr), #expr, __FILE__, __LINE__)
#define QDIT_CUBLAS_CHECK(expr) ::qdit::ops::cuda::check_cublas((expr), #expr, __FILE__, __LINE__)
// Launch errors (bad configuration, missing image for this GPU) surface here; faults inside a kernel surface at
// the next synchronising call, which is checked too.
#define QDIT_CUDA_LAUNCH_CHECK(kernel_name) \
  ::qdit::ops::cuda::check_cuda(cudaGetLastError(), "launch of " kernel_name, __FILE__, __LINE__)
