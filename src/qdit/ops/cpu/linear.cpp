// ops::linear on the CPU: fetch the layer's prepared form, quantize the activations when the scheme does, run
// the GEMM with its fused epilogue.
#include <vector>

#include "qdit/ops/cpu/act_quant.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/cpu/prepared_linear.h"

namespace qdit::ops::cpu {

void linear(const Tensor& x, const QuantLinear& w, Tensor& y, Precision p) {
  const int64_t t = x.dim(0), k = w.in_features;
  if (t == 0) return;
  const std::shared_ptr<const PreparedLinear> prep = prepared_linear(w, p);
  if (prep->float_gemm) return prep->float_gemm->run(x.data<float>(), t, y.data<float>());

  // Reused across calls of this thread: the quantized activations are O(T * K) bytes.
  static thread_local Int8ActBuffer codes;
  static thread_local std::vector<float> row_scale;
  const Int8ActLayout layout = int8_act_layout(prep->int8_gemm->kernel());
  if (prep->static_activations) {
    quantize_static(x.data<float>(), t, k, prep->input_scale, prep->input_offset, layout, codes);
    prep->int8_gemm->run(codes.view(), nullptr, y.data<float>());
  } else {
    row_scale.resize(static_cast<size_t>(t));
    quantize_dynamic(x.data<float>(), t, k, prep->qmin, prep->qmax, layout, codes, row_scale.data());
    prep->int8_gemm->run(codes.view(), row_scale.data(), y.data<float>());
  }
}

}  // namespace qdit::ops::cpu
