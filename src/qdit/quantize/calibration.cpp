#include "qdit/quantize/calibration.h"

#include "qdit/core/error.h"
#include "qdit/load/loader.h"
#include "qdit/models/wan/forward/run_inputs.h"
#include "qdit/models/wan/forward/wan_model.h"

namespace qdit::quantize {

ActivationRanges calibrate(const load::ComponentPlan& plan, const std::vector<std::string>& calibration_files) {
  const wan::WanWeights weights = load::load_weights(plan);
  std::map<std::string, ActivationRange> by_runtime;
  for (const std::string& file : calibration_files) {
    const wan::WanInputs inputs = wan::read_run_inputs(file, plan.config);
    std::map<std::string, ActivationRange> run;
    wan::ForwardOptions fo;
    fo.precision = ops::Precision::FP32;  // the reference arithmetic: ranges must not depend on bf16 rounding
    fo.device = Device::CPU;
    fo.observer = [&run](const std::string& layer, const Tensor& input) {
      run[layer].observe(input.data<const float>(), input.numel());
    };
    wan::wan_forward(weights, inputs, fo);
    for (const auto& [layer, r] : run) {
      if (r.nonfinite) {
        ErrorContext c;
        c.file = file;
        c.layer = layer;
        c.expected = "finite activations";
        c.found = "NaN or Inf in the layer's input";
        fail_checkpoint("calibration run produced non-finite activations", c);
      }
      by_runtime[layer].merge(r);
    }
  }
  ActivationRanges out;
  for (const load::LinearPlan& l : plan.linears) {
    auto it = by_runtime.find(l.runtime);
    if (it == by_runtime.end() || it->second.samples == 0) continue;
    for (const load::ShardPlan& s : l.shards) out[s.canonical] = it->second;
  }
  return out;
}

}  // namespace qdit::quantize
