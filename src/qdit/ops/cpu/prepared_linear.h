// A layer in the form the CPU kernels run it: packed weights, folded epilogue constants, activation
// quantization parameters. Built once per layer identity and kept in a process-wide cache (see ops.h
// prepare_linear): the forward may pass row-range views of fused layers that are new QuantLinear objects on
// every call, so the cache key is what the layer *is* (tensor addresses, shapes, scheme, precision, kernel),
// and the entry holds those tensors so their addresses cannot be reused by other data while it exists.
#pragma once
#include <memory>
#include <vector>

#include "qdit/ops/cpu/float_gemm.h"
#include "qdit/ops/cpu/int8_gemm.h"
#include "qdit/ops/ops.h"

namespace qdit::ops::cpu {

struct PreparedLinear {
  std::unique_ptr<FloatGemm> float_gemm;  // Float, W8A16
  std::unique_ptr<Int8Gemm> int8_gemm;    // W8A8, W8A8_DYNAMIC, W4A4_DYNAMIC, W4A8_DYNAMIC
  // Activation quantization of the int8 schemes.
  bool static_activations = false;  // W8A8: x / input_scale + input_offset
  float input_scale = 0.0f;
  float input_offset = 0.0f;
  int qmin = -128, qmax = 127;      // dynamic: per-token range
  std::vector<Tensor> keep_alive;
};

// The cached prepared form of `w` for precision `p` and the active int8 kernel, built on first request.
// Checkpoint-data problems found while preparing (scales not finite or not positive, int4 weights outside
// [-8, 7], K too large for exact int32 accumulation) are Checkpoint errors naming the layer and scheme.
std::shared_ptr<const PreparedLinear> prepared_linear(const QuantLinear& w, Precision p);

}  // namespace qdit::ops::cpu
