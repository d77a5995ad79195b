// qdit convert: renames a checkpoint between native Wan and Diffusers names (see quantize/converter.h).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "qdit/cli/cli11_parse.h"
#include "qdit/cli/commands.h"
#include "qdit/core/error.h"
#include "qdit/quantize/converter.h"

namespace qdit::cli {

int cmd_convert(const Args& args) {
  CLI::App app(
      "Renames a checkpoint and its quant_model_description between native Wan names (raw msModelSlim output) and "
      "Diffusers names (repacked Diffusers trees), per component; tensor data is copied unchanged.",
      "convert");
  quantize::ConvertOptions opt;
  std::string names;
  app.add_option("SRC", opt.src, "the checkpoint (any layout qdit reads)")->required();
  app.add_option("--out", opt.out, "output folder")->required();
  app.add_option("--names", names, "target namespace: diffusers or native")->required();
  int code = 0;
  if (!parse_or_usage(app, args, code)) return code;
  opt.names = quantize::parse_name_space(names);
  opt.progress = isatty(STDERR_FILENO) == 1;
  for (const auto& c : quantize::convert_checkpoint(opt)) {
    std::printf("%s: %lld tensors (%lld renamed) %s -> %s names: %s", c.name.c_str(),
                static_cast<long long>(c.tensors), static_cast<long long>(c.renamed), c.from.c_str(),
                quantize::name_space_name(opt.names), c.weights_file.c_str());
    if (!c.description_file.empty())
      std::printf(" + %s (%lld entries)", c.description_file.c_str(), static_cast<long long>(c.description_entries));
    std::printf("\n");
  }
  return 0;
}

}  // namespace qdit::cli
