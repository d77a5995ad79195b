#include "qdit/ops/error_context.h"
#include "qdit/ops/op_args.h"

#include "qdit/core/error.h"

namespace qdit::ops {

namespace {
const char* device_name(Device d) { return d == Device::CPU ? "CPU" : "CUDA"; }
std::string where(const char* op, const char* arg) { return std::string(op) + ": argument '" + arg + "'"; }
}  // namespace

void fail_no_cuda(const char* op) {
  fail_usage(std::string(op) + ": a CUDA tensor was given but this qdit was built without the CUDA backend",
             expected_found("CPU tensors", "device CUDA"));
}

Device common_device(const char* op, std::initializer_list<NamedTensor> args) {
  const NamedTensor* first = nullptr;
  for (const NamedTensor& a : args) {
    if (!a.tensor->defined()) continue;
    if (!first) {
      first = &a;
      continue;
    }
    if (a.tensor->device() != first->tensor->device())
      fail_internal(std::string(op) + ": tensors on different devices",
                    expected_found(std::string("'") + a.name + "' on " + device_name(first->tensor->device()) +
                                 " like '" + first->name + "'",
                     device_name(a.tensor->device())));
  }
  if (!first) fail_internal(std::string(op) + ": no defined tensor argument");
  return first->tensor->device();
}

void require_defined(const Tensor& t, const char* op, const char* arg) {
  if (!t.defined()) fail_internal(where(op, arg) + " is undefined", expected_found("a tensor"));
}

void require_dtype(const Tensor& t, DType d, const char* op, const char* arg) {
  if (t.dtype() != d)
    fail_internal(where(op, arg) + " has the wrong dtype",
                  expected_found(std::string(dtype_name(d)), std::string(dtype_name(t.dtype()))));
}

void require_shape(const Tensor& t, const Shape& s, const char* op, const char* arg) {
  if (t.shape() != s)
    fail_internal(where(op, arg) + " has the wrong shape", expected_found(shape_str(s), shape_str(t.shape())));
}

void require_f32(const Tensor& t, const Shape& s, const char* op, const char* arg) {
  require_defined(t, op, arg);
  require_dtype(t, DType::F32, op, arg);
  require_shape(t, s, op, arg);
}

int64_t require_f32_matrix(const Tensor& t, int64_t cols, const char* op, const char* arg) {
  require_defined(t, op, arg);
  require_dtype(t, DType::F32, op, arg);
  if (t.ndim() != 2 || (cols >= 0 && t.dim(1) != cols))
    fail_internal(where(op, arg) + " has the wrong shape",
                  expected_found("[tokens, " + (cols >= 0 ? std::to_string(cols) : std::string("features")) + "]",
                   shape_str(t.shape())));
  return t.dim(0);
}

int64_t require_activation_matrix(const Tensor& t, int64_t cols, Device device, Precision p, const char* op,
                                  const char* arg) {
  require_defined(t, op, arg);
  const bool bf16_ok = device == Device::CUDA && p == Precision::BF16;
  if (t.dtype() != DType::F32 && !(t.dtype() == DType::BF16 && bf16_ok))
    fail_internal(where(op, arg) + " has the wrong dtype",
                  expected_found(bf16_ok ? "F32 or BF16" : "F32 (BF16 only on CUDA at BF16 precision)",
                                 std::string(dtype_name(t.dtype()))));
  if (t.ndim() != 2 || (cols >= 0 && t.dim(1) != cols))
    fail_internal(where(op, arg) + " has the wrong shape",
                  expected_found("[tokens, " + (cols >= 0 ? std::to_string(cols) : std::string("features")) + "]",
                                 shape_str(t.shape())));
  return t.dim(0);
}

void require_row_output(const Tensor& x, const Tensor& out, Device device, const char* op) {
  require_defined(out, op, "out");
  if (out.dtype() != DType::F32 && !(out.dtype() == DType::BF16 && device == Device::CUDA))
    fail_internal(where(op, "out") + " has the wrong dtype",
                  expected_found(device == Device::CUDA ? "F32 or BF16" : "F32 (BF16 only on CUDA)",
                                 std::string(dtype_name(out.dtype()))));
  require_shape(out, x.shape(), op, "out");
}

int64_t require_group_table(const Tensor& t, int64_t tokens, int64_t d, const char* op, const char* arg) {
  require_defined(t, op, arg);
  require_dtype(t, DType::F32, op, arg);
  if (t.ndim() != 2 || t.dim(1) != d || t.dim(0) < 1 || tokens % t.dim(0) != 0)
    fail_internal(where(op, arg) + " is not a per-token-group table for " + std::to_string(tokens) + " tokens",
                  expected_found("[G, " + std::to_string(d) + "] with G dividing " + std::to_string(tokens),
                   shape_str(t.shape())));
  return tokens / t.dim(0);
}

void require_valid_layer(const QuantLinear& w, const char* op) {
  const int64_t n = w.out_features, k = w.in_features;
  auto ctx = [&](std::string expected, const Tensor* t) {
    ErrorContext c = expected_found(std::move(expected), "", w.name, scheme_name(w.scheme));
    if (t) c.found = t->defined() ? std::string(dtype_name(t->dtype())) + " " + shape_str(t->shape()) : "undefined";
    return c;
  };
  auto need = [&](const Tensor& t, const char* what, std::initializer_list<DType> dtypes, const Shape& s) {
    bool dtype_ok = false;
    for (DType d : dtypes) dtype_ok |= t.defined() && t.dtype() == d;
    if (!t.defined() || !dtype_ok || t.shape() != s) {
      std::string allowed;
      for (DType d : dtypes) {
        if (!allowed.empty()) allowed += '|';
        allowed += dtype_name(d);
      }
      fail_internal(std::string(op) + ": layer tensor '" + what + "' is missing or malformed",
                    ctx(allowed + " " + shape_str(s), &t));
    }
  };
  auto optional = [&](const Tensor& t, const char* what, const Shape& s) {
    if (t.defined()) need(t, what, {DType::F32}, s);
  };
  auto absent = [&](const Tensor& t, const char* what) {
    if (t.defined())
      fail_internal(std::string(op) + ": layer tensor '" + what + "' is set but the scheme does not use it",
                    ctx("undefined", &t));
  };
  if (n < 1 || k < 1)
    fail_internal(std::string(op) + ": layer has no features",
                  ctx("N >= 1 and K >= 1", nullptr));
  switch (w.scheme) {
    case SchemeId::Float:
      need(w.weight, "weight", {DType::F32, DType::BF16, DType::F16}, {n, k});
      optional(w.bias, "bias", {n});
      break;
    case SchemeId::W8A8:
      need(w.weight, "weight", {DType::I8}, {n, k});
      need(w.deq_scale, "deq_scale", {DType::F32}, {n});
      need(w.quant_bias, "quant_bias", {DType::I32}, {n});
      // The float bias is folded into quant_bias; a second copy here would be added twice by a careless backend.
      absent(w.bias, "bias");
      break;
    case SchemeId::W8A8Dynamic:
    case SchemeId::W4A4Dynamic:
    case SchemeId::W4A8Dynamic:
      need(w.weight, "weight", {DType::I8}, {n, k});
      need(w.weight_scale, "weight_scale", {DType::F32}, {n});
      optional(w.weight_offset, "weight_offset", {n});  // symmetric: must be all zero (checked when prepared)
      optional(w.bias, "bias", {n});
      break;
    case SchemeId::W8A16:
      need(w.weight, "weight", {DType::I8}, {n, k});
      need(w.weight_scale, "weight_scale", {DType::F32}, {n});
      optional(w.weight_offset, "weight_offset", {n});
      optional(w.bias, "bias", {n});
      break;
  }
}

}  // namespace qdit::ops
