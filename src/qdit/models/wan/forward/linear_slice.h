// Views of part of a layer or a buffer, without copying. Fused runtime layers (self q|k|v with N = 3D, cross
// k|v with N = 2D) are stored as one QuantLinear; ops take contiguous [tokens, features] tensors, so the forward
// runs each part as its own linear over a row range of the fused weight. Every per-output-channel tensor of
// every scheme is [N] or [N, K] row-major, so a row range is one contiguous view on any device.
#pragma once
#include <cstdint>

#include "qdit/core/tensor.h"
#include "qdit/quant/linear.h"

namespace qdit::wan {

// Output channels [first, first + count) of `layer`, as a QuantLinear sharing its memory.
QuantLinear slice_out_features(const QuantLinear& layer, int64_t first, int64_t count);

// Rows [first, first + count) of a row-major tensor with any number of trailing dims (same device).
Tensor slice_rows(const Tensor& t, int64_t first, int64_t count);

// The first shape_numel(shape) elements of `buffer` viewed as `shape` (same device): lets one allocation serve
// activations of several shapes so buffers are reused block to block.
Tensor view_prefix(const Tensor& buffer, Shape shape);

}  // namespace qdit::wan
