#include "qdit/quantize/quality_check.h"

#include <cmath>

#include "qdit/core/error.h"
#include "qdit/load/loader.h"
#include "qdit/load/plan.h"
#include "qdit/models/wan/forward/run_inputs.h"
#include "qdit/models/wan/forward/wan_model.h"
#include "qdit/quantize/output_layout.h"

namespace qdit::quantize {

namespace {

Tensor run(const load::ComponentPlan& plan, const std::string& inputs_file) {
  const wan::WanWeights w = load::load_weights(plan);  // refuses a plan with errors, naming the first
  wan::ForwardOptions fo;
  fo.precision = ops::Precision::FP32;
  return wan::wan_forward(w, wan::read_run_inputs(inputs_file, plan.config), fo);
}

}  // namespace

std::vector<CheckResult> check_quantization(const std::string& float_model, const std::string& quantized_model,
                                            const std::string& inputs_file) {
  const std::vector<load::ComponentPlan> fp = load::plan_checkpoint(float_model);
  const std::vector<load::ComponentPlan> qp = load::plan_checkpoint(quantized_model);
  if (fp.size() != qp.size())
    fail_internal("--check: the float and quantized checkpoints have different component counts");
  std::vector<CheckResult> out;
  for (const load::ComponentPlan& q : qp) {
    // Components pair up by expert position, whatever each namespace calls its folders.
    const load::ComponentPlan* f = nullptr;
    for (const auto& c : fp)
      if (component_expert_index(c.files.name) == component_expert_index(q.files.name)) f = &c;
    QDIT_CHECK(f != nullptr, "no float twin for component " + q.files.name);
    const Tensor a = run(*f, inputs_file), b = run(q, inputs_file);
    double num = 0, den = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
      const double d = double(b.data<float>()[i]) - a.data<float>()[i];
      num += d * d;
      den += double(a.data<float>()[i]) * a.data<float>()[i];
    }
    out.push_back({q.files.name, den > 0 ? std::sqrt(num / den) : std::sqrt(num)});
  }
  return out;
}

}  // namespace qdit::quantize
