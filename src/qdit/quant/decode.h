// The value-level conversions the format defines (modelslim-format.md §2.7, §3.6, §4.3), in one place so the
// loader decodes and the quantizer encodes with the same arithmetic.
#pragma once
#include <cstdint>
#include <optional>

#include "qdit/core/tensor.h"

namespace qdit::quant {

// deq_scale as int64: the low 32 bits are the IEEE-754 fp32 bit pattern (sign-extended from int32 by msModelSlim).
float decode_deq_scale_bits(int64_t v);
// The inverse msModelSlim applies (deqscale2int64): fp32 bits as int32, sign-extended to int64.
int64_t encode_deq_scale_bits(float f);

// F32 [N] from a deq_scale stored as I64 (bit-decoded) or F32 (as is, zero-copy). Other dtypes: Internal error
// (the plan only lets declared dtypes through).
Tensor decode_deq_scale(const Tensor& t);

// F32 with the same elements, flattened to 1-D when `flatten` is set: F32 input is a zero-copy view; BF16/F16
// are widened exactly. Other dtypes: Internal error.
Tensor widen_to_f32(const Tensor& t, bool flatten);

// W4A8 v1.0.0 packing along the output dimension: packed[j,k] = (W[2j+1,k] << 4) | (W[2j,k] & 0xF).
Tensor unpack_int4_along_n(const Tensor& packed);  // I8 [N/2, K] -> I8 [N, K], values in [-8, 7]
Tensor pack_int4_along_n(const Tensor& w);         // I8 [N, K] (N even, values in [-8, 7]) -> I8 [N/2, K]

// Index of the first I8 element outside [-8, 7], or nullopt when all are int4 values.
std::optional<int64_t> first_outside_int4(const Tensor& t);

}  // namespace qdit::quant
