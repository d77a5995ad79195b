// Dispatch of ops::linear and the preparation of layers.
#include "qdit/ops/error_context.h"
#include "qdit/core/error.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/op_args.h"
#include "qdit/ops/stage_timer.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/cuda_ops.h"
#endif

namespace qdit::ops {

namespace {
Device layer_device(const QuantLinear& w, const char* op) {
  return common_device(op, {{"weight", &w.weight},
                            {"bias", &w.bias},
                            {"weight_scale", &w.weight_scale},
                            {"weight_offset", &w.weight_offset},
                            {"deq_scale", &w.deq_scale},
                            {"quant_bias", &w.quant_bias}});
}
}  // namespace

void prepare_linear(const QuantLinear& w, Precision p) {
  require_valid_layer(w, "prepare_linear");
  if (layer_device(w, "prepare_linear") == Device::CPU) cpu::prepare_linear(w, p);
}

void release_prepared_linears() { cpu::release_prepared_linears(); }

void linear(const Tensor& x, const QuantLinear& w, Tensor& y, Precision p) {
  require_valid_layer(w, "linear");
  const Device device = common_device("linear", {{"x", &x}, {"y", &y}, {"weight", &w.weight}});
  if (layer_device(w, "linear") != device)
    fail_internal("linear: layer and activations on different devices", expected_found("", "", w.name));
  const int64_t t = require_activation_matrix(x, w.in_features, device, p, "linear", "x");
  if (require_activation_matrix(y, w.out_features, device, p, "linear", "y") != t)
    fail_internal("linear: y and x differ in rows", expected_found(shape_str(x.shape()), shape_str(y.shape()), w.name));
  if (x.raw() == y.raw() && t > 0)
    fail_internal("linear: y must not alias x", expected_found("distinct buffers", "", w.name));
  if (t == 0) return;
  StageScope stage(Stage::Gemm, 2.0 * static_cast<double>(t) * w.out_features * w.in_features);  // qdit bench
  if (device == Device::CPU) return cpu::linear(x, w, y, p);
#ifdef QDIT_WITH_CUDA
  cuda::linear(x, w, y, p);
#else
  fail_no_cuda("linear");
#endif
}

void linear(const LinearInput& x, const QuantLinear& w, Tensor& y, Precision p) {
  require_valid_layer(w, "linear");
  const Device device = common_device("linear", {{"x", &x.values}, {"y", &y}, {"weight", &w.weight}});
  if (layer_device(w, "linear") != device)
    fail_internal("linear: layer and activations on different devices", expected_found("", "", w.name));
  const LinearInputSpec want = linear_input_spec(w, p, device);
  if (!(x.spec == want))
    fail_internal("linear: the input is not in the form this layer consumes",
                  expected_found(want.describe(), x.spec.describe(), w.name, scheme_name(w.scheme)));
  const int64_t t = require_linear_input(x, w.in_features, "linear", "x");
  if (require_activation_matrix(y, w.out_features, device, p, "linear", "y") != t)
    fail_internal("linear: y and x differ in rows",
                  expected_found(shape_str(x.values.shape()), shape_str(y.shape()), w.name));
  if (x.values.raw() == y.raw() && t > 0)
    fail_internal("linear: y must not alias x", expected_found("distinct buffers", "", w.name));
  if (t == 0) return;
  StageScope stage(Stage::Gemm, 2.0 * static_cast<double>(t) * w.out_features * w.in_features);  // qdit bench
  if (device == Device::CPU) return cpu::linear(x.values, w, y, p);  // CPU spec is always F32
#ifdef QDIT_WITH_CUDA
  cuda::linear(x, w, y, p);
#else
  fail_no_cuda("linear");
#endif
}

}  // namespace qdit::ops
