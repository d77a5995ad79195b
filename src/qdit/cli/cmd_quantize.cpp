// qdit quantize: a float Wan checkpoint -> a ModelSlim checkpoint (see quantize/quantizer.h).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "qdit/cli/cli11_parse.h"
#include "qdit/cli/commands.h"
#include "qdit/core/error.h"
#include "qdit/quantize/layer_quantizer.h"
#include "qdit/quantize/quality_check.h"
#include "qdit/quantize/quantizer.h"

namespace qdit::cli {

int cmd_quantize(const Args& args) {
  CLI::App app(
      "Quantizes a float Wan checkpoint (any layout, native or Diffusers names, f32/bf16/f16) into the ModelSlim "
      "format that qdit, SGLang and vllm-ascend load.",
      "quantize");
  quantize::QuantizeOptions opt;
  std::string scheme, layout = "ascendv1", names;
  app.add_option("SRC", opt.src, "the float checkpoint")->required();
  app.add_option("--out", opt.out, "output folder")->required();
  app.add_option("--scheme", scheme, "w8a8 (static, needs --calibration), w8a8_dynamic, w4a4_dynamic or w8a16")
      ->required();
  app.add_option("--exclude", opt.excludes,
                 "glob on canonical (Diffusers) layer names kept in float, repeatable (e.g. '*ffn.net.2*')")
      ->expected(1)  // one value per flag, so a following SRC is never swallowed
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
  app.add_option("--calibration", opt.calibration,
                 "w8a8: an input file in `qdit run` form whose activation ranges set input_scale/offset, repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
  app.add_option("--layout", layout,
                 "ascendv1 (default: quant_model_description.json + quant_model_weights.safetensors), mindie "
                 "(quant_model_description_<type>.json + quant_model_weight_<type>.safetensors) or repacked "
                 "(quant_model_description.json + diffusion_pytorch_model.safetensors)");
  app.add_option("--names", names,
                 "diffusers or native tensor names (default: the source's for ascendv1, native for mindie, "
                 "diffusers for repacked)");
  std::string check;
  app.add_option("--check", check,
                 "after writing, run the float and the quantized model on this input file (`qdit run` form) and "
                 "print the relative L2 error of the output");
  int code = 0;
  if (!parse_or_usage(app, args, code)) return code;
  opt.scheme = quantize::parse_target_scheme(scheme);
  opt.layout = quantize::parse_output_layout(layout);
  if (!names.empty()) opt.names = quantize::parse_name_space(names);
  opt.progress = isatty(STDERR_FILENO) == 1;

  const quantize::QuantizeReport r = quantize::quantize_checkpoint(opt);
  for (const auto& w : r.warnings) std::fprintf(stderr, "qdit quantize: warning: %s\n", w.c_str());
  for (const auto& c : r.components)
    std::printf("%s: %d layers %s, %d float, %lld tensors (%.1f MB), %s names -> %s + %s\n", c.name.c_str(),
                c.quantized_layers, c.model_quant_type.c_str(), c.float_layers, static_cast<long long>(c.tensors),
                static_cast<double>(c.bytes) / 1e6, quantize::name_space_name(c.names), c.weights_file.c_str(),
                c.description_file.c_str());
  if (!check.empty())
    for (const auto& c : quantize::check_quantization(opt.src, opt.out, check))
      std::printf("%s: relative L2 error of noise_pred vs the float model on %s: %.4f\n", c.component.c_str(),
                  check.c_str(), c.relative_error);
  return 0;
}

}  // namespace qdit::cli
