// A tensor: shape, dtype, device and a pointer. It either owns its memory or views memory kept alive by a
// shared holder (an mmap'd file, a parent tensor). Row-major, contiguous; strides are not modelled because no
// op of qdit needs them.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "qdit/core/dtype.h"

namespace qdit {

enum class Device : uint8_t { CPU, CUDA };

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);  // "[3, 4]"

class Tensor {
 public:
  Tensor() = default;

  // Fresh CPU memory, 64-byte aligned, uninitialised (callers fill every element; tests poison it).
  static Tensor empty(Shape shape, DType dtype);
  // Fresh CPU memory filled with zero bytes (only where zero is the mathematically intended value).
  static Tensor zeros(Shape shape, DType dtype);
  // A view of memory owned by someone else; `holder` keeps it alive (may be null for caller-managed memory).
  static Tensor view(void* data, Shape shape, DType dtype, std::shared_ptr<void> holder,
                     Device device = Device::CPU);

  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_.at(i < 0 ? shape_.size() + i : i); }
  int ndim() const { return static_cast<int>(shape_.size()); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  // A zero-element tensor with a shape is defined even though it has no memory.
  bool defined() const { return data_ != nullptr || (numel() == 0 && !shape_.empty()); }

  void* raw() const { return data_; }
  template <typename T> T* data() const { return static_cast<T*>(data_); }

  // Same memory, new shape with the same number of elements.
  Tensor reshape(Shape shape) const;
  // Deep copy into fresh CPU memory.
  Tensor clone() const;
  const std::shared_ptr<void>& holder() const { return holder_; }

 private:
  void* data_ = nullptr;
  Shape shape_;
  DType dtype_ = DType::F32;
  Device device_ = Device::CPU;
  std::shared_ptr<void> holder_;
};

// Reads element i of a floating/integer CPU tensor as double (for tests, references and validation).
double element_as_double(const Tensor& t, int64_t i);
// Converts a CPU tensor of F32/F16/BF16 to a fresh F32 tensor; any other dtype is an Internal error.
Tensor to_f32(const Tensor& t);

}  // namespace qdit
