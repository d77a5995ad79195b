#include "qdit/models/wan/forward/linear_slice.h"

#include "qdit/core/error.h"

namespace qdit::wan {

Tensor slice_rows(const Tensor& t, int64_t first, int64_t count) {
  if (!t.defined()) return t;
  QDIT_CHECK(t.ndim() >= 1 && first >= 0 && count >= 0 && first + count <= t.dim(0),
             "row slice [" + std::to_string(first) + ", +" + std::to_string(count) + ") of " +
                 shape_str(t.shape()));
  Shape shape = t.shape();
  const int64_t row_elems = t.numel() / (shape[0] ? shape[0] : 1);
  shape[0] = count;
  char* base = static_cast<char*>(t.raw()) + first * row_elems * static_cast<int64_t>(dtype_size(t.dtype()));
  return Tensor::view(base, std::move(shape), t.dtype(), t.holder(), t.device());
}

QuantLinear slice_out_features(const QuantLinear& layer, int64_t first, int64_t count) {
  QDIT_CHECK(first >= 0 && count > 0 && first + count <= layer.out_features,
             "output slice out of range of a layer with N = " + std::to_string(layer.out_features));
  QuantLinear s = layer;
  s.out_features = count;
  s.weight = slice_rows(layer.weight, first, count);
  s.bias = slice_rows(layer.bias, first, count);
  s.weight_scale = slice_rows(layer.weight_scale, first, count);
  s.weight_offset = slice_rows(layer.weight_offset, first, count);
  s.deq_scale = slice_rows(layer.deq_scale, first, count);
  s.quant_bias = slice_rows(layer.quant_bias, first, count);
  return s;
}

Tensor view_prefix(const Tensor& buffer, Shape shape) {
  QDIT_CHECK(shape_numel(shape) <= buffer.numel(),
             "view " + shape_str(shape) + " larger than buffer " + shape_str(buffer.shape()));
  return Tensor::view(buffer.raw(), std::move(shape), buffer.dtype(), buffer.holder(), buffer.device());
}

}  // namespace qdit::wan
