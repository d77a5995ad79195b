// Argument checks shared by the CUDA ops. A mismatch here is a bug in the caller (the loader and the model
// validate user data before any op runs), so it is an Internal error that names the op, the argument and
// expected vs found.
#pragma once
#include <string>

#include "qdit/core/error.h"
#include "qdit/core/tensor.h"
#include "qdit/quant/linear.h"

namespace qdit::ops::cuda {

inline ErrorContext err_ctx(std::string expected, std::string found, std::string scheme = {}) {
  ErrorContext c;
  c.expected = std::move(expected);
  c.found = std::move(found);
  c.scheme = std::move(scheme);
  return c;
}

inline void require_device(const Tensor& t, const char* op, const char* arg) {
  if (!t.defined())
    fail_internal(std::string(op) + ": argument '" + arg + "' is undefined", err_ctx("a CUDA tensor", ""));
  if (t.device() != Device::CUDA)
    fail_internal(std::string(op) + ": argument '" + arg + "' is not on the GPU",
                  err_ctx("device CUDA", "device CPU"));
}

inline void require_dtype(const Tensor& t, DType d, const char* op, const char* arg) {
  if (t.dtype() != d)
    fail_internal(std::string(op) + ": argument '" + arg + "' has the wrong dtype",
                  err_ctx(std::string(dtype_name(d)), std::string(dtype_name(t.dtype()))));
}

inline void require_shape(const Tensor& t, const Shape& s, const char* op, const char* arg) {
  if (t.shape() != s)
    fail_internal(std::string(op) + ": argument '" + arg + "' has the wrong shape",
                  err_ctx(shape_str(s), shape_str(t.shape())));
}

// A CUDA F32 tensor of exactly `s`.
inline void require_f32(const Tensor& t, const Shape& s, const char* op, const char* arg) {
  require_device(t, op, arg);
  require_dtype(t, DType::F32, op, arg);
  require_shape(t, s, op, arg);
}

inline void require_2d(const Tensor& t, const char* op, const char* arg) {
  if (t.ndim() != 2)
    fail_internal(std::string(op) + ": argument '" + arg + "' must be 2-D [tokens, features]",
                  err_ctx("2 dimensions", shape_str(t.shape())));
}

}  // namespace qdit::ops::cuda
