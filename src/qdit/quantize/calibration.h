// Static W8A8 calibration: runs the float model on every calibration input (files in `qdit run` form) and
// records, per canonical linear layer, the min/max of the layer's input over all runs. Fused runtime layers
// (self-attention q|k|v, cross-attention k|v) read one activation, so their canonical layers get the same range
// and therefore identical input_scale / input_offset.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "qdit/load/plan.h"
#include "qdit/quantize/static_w8a8.h"

namespace qdit::quantize {

using ActivationRanges = std::map<std::string, ActivationRange>;  // canonical layer -> range

// `plan` must be error-free (the caller checks). A calibration file that does not fit the component, a layer
// that never saw an input, or a NaN/Inf activation are Checkpoint errors naming the file and the layer.
ActivationRanges calibrate(const load::ComponentPlan& plan, const std::vector<std::string>& calibration_files);

}  // namespace qdit::quantize
