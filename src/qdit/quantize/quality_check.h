// `qdit quantize --check FILE`: how far the quantized model's output moves from the float model's on one input
// (a file in `qdit run` form), per component, as the relative L2 error of noise_pred. Both models run the fp32
// CPU reference arithmetic, so the number measures the quantization alone.
#pragma once
#include <string>
#include <vector>

namespace qdit::quantize {

struct CheckResult {
  std::string component;
  double relative_error = 0;
};

// `float_model` and `quantized_model` are checkpoints with the same components (as quantize_checkpoint writes).
std::vector<CheckResult> check_quantization(const std::string& float_model, const std::string& quantized_model,
                                            const std::string& inputs_file);

}  // namespace qdit::quantize
