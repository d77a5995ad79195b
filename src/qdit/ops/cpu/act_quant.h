// Activation quantization of the quantized linears, writing the codes straight into an int8 kernel's layout.
//   static (W8A8):    code = sat8(rne(x / scale + offset))              fp32 division, then fp32 sum
//   dynamic per token: s[t] = max(max_k |x[t,k]| / qmax, FLT_EPSILON)   fp32 division
//                      code = clamp(rne(x / s[t]), qmin, qmax)           fp32 division
// rne = round half to even. Clamping before rounding gives the same code as saturating after it (a value
// beyond the range rounds to or beyond the bound either way). A NaN activation becomes qmin (what the vector
// conversion's "integer indefinite" saturates to): NaN means the model already diverged, and the result is at
// least deterministic. Threaded over tokens.
#pragma once
#include <cstdint>

#include "qdit/core/tensor.h"
#include "qdit/ops/cpu/int8_gemm.h"

namespace qdit::ops::cpu {

// A growable activation buffer for one kernel layout; view() is valid until the next quantize call.
class Int8ActBuffer {
 public:
  Int8Activations view() const { return view_; }
  // Sizes the buffer for m x k in `layout` (keeps the memory when it is large enough).
  void shape(int64_t m, int64_t k, const Int8ActLayout& layout);
  int8_t* data() { return storage_.data<int8_t>(); }

 private:
  Tensor storage_;
  Int8Activations view_;
};

void quantize_static(const float* x, int64_t m, int64_t k, float scale, float offset, const Int8ActLayout& layout,
                     Int8ActBuffer& out);
void quantize_dynamic(const float* x, int64_t m, int64_t k, int qmin, int qmax, const Int8ActLayout& layout,
                      Int8ActBuffer& out, float* row_scale);

}  // namespace qdit::ops::cpu
