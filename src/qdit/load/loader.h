// Executes a load plan: mmap views, decoding the format's encodings, fusing shards, filling wan::WanWeights.
// It makes no decision the plan did not record, and it refuses a plan that has errors. What the plan cannot see
// from headers alone (values) is checked here: W4A4 weights in [-8, 7], zero weight offsets for symmetric
// schemes, an integer static input_offset in [-128, 127], a positive finite input_scale; the redundant W4A8
// scale_bias and legacy static W8A8 weight_scale are verified against what they restate (warnings if off).
//
// No copy when the stored layout is the runtime layout: float weights as stored, int8 [N,K] weights, F32 scales.
// Copies happen only where the format requires them: fused shards concatenated along N, int64 deq_scale
// bit-decoded, BF16/F16 scales, norms and modulation tables widened to F32 (declared conversions), W4A8
// unpacked along N.
#pragma once
#include <vector>

#include "qdit/load/plan.h"
#include "qdit/models/wan/weights.h"

namespace qdit::load {

// Throws a Checkpoint error when `plan` has errors (the first one, with the count) or a value check fails.
// Verification findings that do not stop the load are appended to `warnings` when given.
wan::WanWeights load_weights(const ComponentPlan& plan, std::vector<Problem>* warnings = nullptr);

// One runtime linear layer from its plan (the plan's layer must have a resolved scheme).
QuantLinear load_linear(const ComponentPlan& plan, const LinearPlan& layer, std::vector<Problem>* warnings = nullptr);

// A non-linear parameter as F32, reshaped to `runtime_shape` (e.g. scale_shift_table [1,6,D] -> [6,D]).
Tensor load_param_f32(const ComponentPlan& plan, const ParamPlan& param, const Shape& runtime_shape);

}  // namespace qdit::load
