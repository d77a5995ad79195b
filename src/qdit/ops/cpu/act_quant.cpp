#include "qdit/ops/cpu/act_quant.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "qdit/core/parallel.h"
#include "qdit/ops/cpu/cpu_features.h"
#include "qdit/ops/cpu/int8_kernels.h"
#include "qdit/ops/cpu/vec_math.h"

namespace qdit::ops::cpu {

namespace {

// The stored byte of a code: the code itself, or code + 128 for the u8 layout.
int8_t stored(int code, bool u8) { return static_cast<int8_t>(u8 ? code ^ 0x80 : code); }

int round_clamp(float v, int qmin, int qmax) {
  if (std::isnan(v)) return qmin;
  v = std::min(std::max(v, static_cast<float>(qmin)), static_cast<float>(qmax));
  return static_cast<int>(std::nearbyint(v));  // default rounding mode: to nearest, ties to even
}

// Codes of one row: x[i] / div (+ add) rounded and clamped; the row tail up to `ld` gets the code of 0.
void quantize_row_scalar(const float* x, int64_t k, int64_t ld, float div, float add, bool has_add, int qmin,
                         int qmax, bool u8, int8_t* out) {
  for (int64_t i = 0; i < k; ++i) {
    float v = x[i] / div;
    if (has_add) v = v + add;
    out[i] = stored(round_clamp(v, qmin, qmax), u8);
  }
  std::memset(out + k, u8 ? 0x80 : 0, ld - k);
}

QDIT_AVX512 void quantize_row_avx512(const float* x, int64_t k, int64_t ld, float div, float add, bool has_add,
                                     int qmin, int qmax, bool u8, int8_t* out) {
  const __m512 vdiv = _mm512_set1_ps(div), vadd = _mm512_set1_ps(add);
  const __m512 lo = _mm512_set1_ps(static_cast<float>(qmin)), hi = _mm512_set1_ps(static_cast<float>(qmax));
  const __m128i flip = _mm_set1_epi8(u8 ? static_cast<char>(0x80) : 0);
  for (int64_t i = 0; i < k; i += 16) {
    const __mmask16 m = vec::tail_mask(k - i);
    __m512 v = _mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), vdiv);
    if (has_add) v = _mm512_add_ps(v, vadd);
    // Constant first: a NaN lane stays NaN and converts to INT_MIN, which the saturating pack turns into -128;
    // the integer clamp below then maps it to qmin like the scalar path.
    v = _mm512_min_ps(hi, _mm512_max_ps(lo, v));
    __m512i c = _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    c = _mm512_max_epi32(c, _mm512_set1_epi32(qmin));
    const __m128i bytes = _mm_xor_si128(_mm512_cvtepi32_epi8(c), flip);
    _mm_mask_storeu_epi8(out + i, m, bytes);
  }
  std::memset(out + k, u8 ? 0x80 : 0, ld - k);
}

QDIT_AVX512 float max_abs_avx512(const float* x, int64_t k) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < k; i += 16)
    acc = _mm512_max_ps(acc, _mm512_abs_ps(_mm512_maskz_loadu_ps(vec::tail_mask(k - i), x + i)));
  return _mm512_reduce_max_ps(acc);
}

float max_abs_scalar(const float* x, int64_t k) {
  float m = 0.0f;
  for (int64_t i = 0; i < k; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

// Fills the padding rows [m, rows_padded) with the code of 0.
void pad_rows(Int8ActBuffer& out) {
  const Int8Activations v = out.view();
  const int zero = v.layout.u8_offset ? 0x80 : 0;
  if (!v.layout.tiled) {
    const int64_t bytes = (v.rows_padded - v.rows) * v.ld;
    if (bytes > 0) std::memset(out.data() + v.rows * v.ld, zero, bytes);
    return;
  }
  for (int64_t t = v.rows; t < v.rows_padded; ++t)
    for (int64_t c = 0; c < v.ld; c += 64) std::memset(out.data() + v.offset(t, c), zero, 64);
}

// Where row t's codes are written: straight into a row-major buffer, or into `scratch` (ld bytes) from which
// store_row() scatters them into the 64-byte pieces of the tiled layout.
int8_t* row_target(Int8ActBuffer& out, int64_t t, int8_t* scratch) {
  const Int8Activations v = out.view();
  return v.layout.tiled ? scratch : out.data() + v.offset(t, 0);
}
void store_row(Int8ActBuffer& out, int64_t t, const int8_t* scratch) {
  const Int8Activations v = out.view();
  if (!v.layout.tiled) return;
  for (int64_t c = 0; c < v.ld; c += 64) std::memcpy(out.data() + v.offset(t, c), scratch + c, 64);
}

}  // namespace

void Int8ActBuffer::shape(int64_t m, int64_t k, const Int8ActLayout& layout) {
  view_.rows = m;
  view_.rows_padded = round_up(std::max<int64_t>(m, 1), layout.rows_multiple);
  view_.k = k;
  view_.ld = round_up(k, layout.k_multiple);
  view_.layout = layout;
  const int64_t bytes = view_.rows_padded * view_.ld;
  if (!storage_.defined() || storage_.numel() < bytes) storage_ = Tensor::empty({bytes}, DType::I8);
  view_.data = storage_.data<int8_t>();
}

void quantize_static(const float* x, int64_t m, int64_t k, float scale, float offset, const Int8ActLayout& layout,
                     Int8ActBuffer& out) {
  out.shape(m, k, layout);
  const int64_t ld = out.view().ld;
  const bool avx512 = has_avx512();
  parallel_for(m, std::max<int64_t>(1, 4096 / std::max<int64_t>(k, 1)), [&](int64_t b, int64_t e) {
    std::vector<int8_t> scratch(layout.tiled ? static_cast<size_t>(ld) : 0);
    for (int64_t t = b; t < e; ++t) {
      int8_t* dst = row_target(out, t, scratch.data());
      if (avx512)
        quantize_row_avx512(x + t * k, k, ld, scale, offset, true, -128, 127, layout.u8_offset, dst);
      else
        quantize_row_scalar(x + t * k, k, ld, scale, offset, true, -128, 127, layout.u8_offset, dst);
      store_row(out, t, scratch.data());
    }
  });
  pad_rows(out);
}

void quantize_dynamic(const float* x, int64_t m, int64_t k, int qmin, int qmax, const Int8ActLayout& layout,
                      Int8ActBuffer& out, float* row_scale) {
  out.shape(m, k, layout);
  const int64_t ld = out.view().ld;
  const bool avx512 = has_avx512();
  parallel_for(m, std::max<int64_t>(1, 4096 / std::max<int64_t>(k, 1)), [&](int64_t b, int64_t e) {
    std::vector<int8_t> scratch(layout.tiled ? static_cast<size_t>(ld) : 0);
    for (int64_t t = b; t < e; ++t) {
      const float* row = x + t * k;
      const float max_abs = avx512 ? max_abs_avx512(row, k) : max_abs_scalar(row, k);
      const float s = std::max(max_abs / static_cast<float>(qmax), FLT_EPSILON);
      row_scale[t] = s;
      int8_t* dst = row_target(out, t, scratch.data());
      if (avx512)
        quantize_row_avx512(row, k, ld, s, 0.0f, false, qmin, qmax, layout.u8_offset, dst);
      else
        quantize_row_scalar(row, k, ld, s, 0.0f, false, qmin, qmax, layout.u8_offset, dst);
      store_row(out, t, scratch.data());
    }
  });
  pad_rows(out);
}

}  // namespace qdit::ops::cpu
