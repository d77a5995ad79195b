#include "qdit/quant/decode.h"

#include <cstring>

#include "qdit/core/error.h"
#include "qdit/core/half.h"

namespace qdit::quant {

float decode_deq_scale_bits(int64_t v) { return bits_to_f32(static_cast<uint32_t>(static_cast<uint64_t>(v) & 0xFFFFFFFFu)); }

int64_t encode_deq_scale_bits(float f) { return static_cast<int64_t>(static_cast<int32_t>(f32_to_bits(f))); }

Tensor decode_deq_scale(const Tensor& t) {
  if (t.dtype() == DType::F32) return t.reshape({t.numel()});
  if (t.dtype() != DType::I64) fail_internal("decode_deq_scale: dtype " + std::string(dtype_name(t.dtype())));
  Tensor out = Tensor::empty({t.numel()}, DType::F32);
  const int64_t* src = t.data<int64_t>();
  float* dst = out.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) dst[i] = decode_deq_scale_bits(src[i]);
  return out;
}

Tensor widen_to_f32(const Tensor& t, bool flatten) {
  Tensor out = t.dtype() == DType::F32 ? t : to_f32(t);
  return flatten ? out.reshape({out.numel()}) : out;
}

Tensor unpack_int4_along_n(const Tensor& packed) {
  QDIT_CHECK(packed.dtype() == DType::I8 && packed.ndim() == 2, "unpack_int4_along_n needs I8 [N/2, K]");
  const int64_t half = packed.dim(0), k = packed.dim(1);
  Tensor out = Tensor::empty({2 * half, k}, DType::I8);
  const int8_t* src = packed.data<int8_t>();
  int8_t* dst = out.data<int8_t>();
  for (int64_t j = 0; j < half; ++j) {
    for (int64_t c = 0; c < k; ++c) {
      const uint8_t b = static_cast<uint8_t>(src[j * k + c]);
      // Sign-extend each nibble: values 8..15 are -8..-1.
      const int lo = b & 0xF, hi = b >> 4;
      dst[(2 * j) * k + c] = static_cast<int8_t>(lo >= 8 ? lo - 16 : lo);
      dst[(2 * j + 1) * k + c] = static_cast<int8_t>(hi >= 8 ? hi - 16 : hi);
    }
  }
  return out;
}

Tensor pack_int4_along_n(const Tensor& w) {
  QDIT_CHECK(w.dtype() == DType::I8 && w.ndim() == 2 && w.dim(0) % 2 == 0, "pack_int4_along_n needs I8 [N even, K]");
  if (auto bad = first_outside_int4(w))
    fail_internal("pack_int4_along_n: element " + std::to_string(*bad) + " is not an int4 value");
  const int64_t half = w.dim(0) / 2, k = w.dim(1);
  Tensor out = Tensor::empty({half, k}, DType::I8);
  const int8_t* src = w.data<int8_t>();
  int8_t* dst = out.data<int8_t>();
  for (int64_t j = 0; j < half; ++j)
    for (int64_t c = 0; c < k; ++c) {
      const uint8_t lo = static_cast<uint8_t>(src[(2 * j) * k + c]) & 0xF;
      const uint8_t hi = static_cast<uint8_t>(src[(2 * j + 1) * k + c]) & 0xF;
      dst[j * k + c] = static_cast<int8_t>(static_cast<uint8_t>(hi << 4 | lo));
    }
  return out;
}

std::optional<int64_t> first_outside_int4(const Tensor& t) {
  QDIT_CHECK(t.dtype() == DType::I8, "first_outside_int4 needs I8");
  const int8_t* p = t.data<int8_t>();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (p[i] < -8 || p[i] > 7) return i;
  return std::nullopt;
}

}  // namespace qdit::quant
