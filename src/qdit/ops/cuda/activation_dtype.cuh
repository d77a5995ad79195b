// The two dtypes activations come in on the GPU, F32 and BF16 (bf16 where a bf16 kernel consumes them:
// ops::attention_io_dtype), and the one switch from a tensor to the typed pointer a kernel template takes.
#pragma once
#include <cuda_bf16.h>

#include <string>

#include "qdit/core/tensor.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

// Calls f(float*) for an F32 tensor, f(__nv_bfloat16*) for a BF16 one; any other dtype is an Internal error
// naming op and arg.
template <class F>
void with_f32_or_bf16(const Tensor& t, const char* op, const char* arg, F&& f) {
  if (t.dtype() == DType::F32) return f(static_cast<float*>(t.raw()));
  if (t.dtype() == DType::BF16) return f(static_cast<__nv_bfloat16*>(t.raw()));
  fail_internal(std::string(op) + ": " + arg + " must be F32 or BF16",
                err_ctx("F32 or BF16", std::string(dtype_name(t.dtype()))));
}

}  // namespace qdit::ops::cuda
