#include "qdit/core/tensor.h"

#include <cstdlib>
#include <cstring>

#include "qdit/core/error.h"
#include "qdit/core/half.h"

namespace qdit {

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

Tensor Tensor::empty(Shape shape, DType dtype) {
  for (int64_t d : shape) QDIT_CHECK(d >= 0, "negative dimension in " + shape_str(shape));
  Tensor t;
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  size_t bytes = t.nbytes();
  size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (!p) fail_internal("out of memory allocating " + std::to_string(bytes) + " bytes");
  t.holder_ = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  t.data_ = p;
  return t;
}

Tensor Tensor::zeros(Shape shape, DType dtype) {
  Tensor t = empty(std::move(shape), dtype);
  std::memset(t.data_, 0, t.nbytes());
  return t;
}

Tensor Tensor::view(void* data, Shape shape, DType dtype, std::shared_ptr<void> holder, Device device) {
  Tensor t;
  t.data_ = data;
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  t.device_ = device;
  t.holder_ = std::move(holder);
  return t;
}

Tensor Tensor::reshape(Shape shape) const {
  QDIT_CHECK(shape_numel(shape) == numel(), "reshape " + shape_str(shape_) + " -> " + shape_str(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  QDIT_CHECK(device_ == Device::CPU, "clone of a device tensor");
  Tensor t = empty(shape_, dtype_);
  if (nbytes()) std::memcpy(t.data_, data_, nbytes());
  return t;
}

double element_as_double(const Tensor& t, int64_t i) {
  const void* p = t.raw();
  switch (t.dtype()) {
    case DType::F64: return static_cast<const double*>(p)[i];
    case DType::F32: return static_cast<const float*>(p)[i];
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::I64: return static_cast<double>(static_cast<const int64_t*>(p)[i]);
    case DType::I32: return static_cast<const int32_t*>(p)[i];
    case DType::I16: return static_cast<const int16_t*>(p)[i];
    case DType::I8: return static_cast<const int8_t*>(p)[i];
    case DType::U8: return static_cast<const uint8_t*>(p)[i];
    case DType::BOOL: return static_cast<const uint8_t*>(p)[i] ? 1.0 : 0.0;
    default: fail_internal("element_as_double: unsupported dtype " + std::string(dtype_name(t.dtype())));
  }
}

Tensor to_f32(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), DType::F32);
  float* o = out.data<float>();
  int64_t n = t.numel();
  switch (t.dtype()) {
    case DType::F32: std::memcpy(o, t.raw(), t.nbytes()); break;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) o[i] = f16_to_f32(t.data<uint16_t>()[i]);
      break;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) o[i] = bf16_to_f32(t.data<uint16_t>()[i]);
      break;
    default: fail_internal("to_f32: unsupported dtype " + std::string(dtype_name(t.dtype())));
  }
  return out;
}

}  // namespace qdit
