// `qdit inspect PATH [--json] [--component NAME]`: prints the load plan of every transformer component of a
// checkpoint. Only headers, config.json and the description are read, so it is fast on any size of checkpoint.
#include <cstdio>
#include <string>

#include "qdit/cli/commands.h"
#include "qdit/core/error.h"
#include "qdit/load/plan.h"
#include "qdit/load/report.h"

namespace qdit::cli {

namespace {

constexpr const char* kHelp =
    "usage: qdit inspect PATH [--json] [--component NAME]\n"
    "\n"
    "Shows how a checkpoint maps onto the model without loading any tensor data: for every linear layer its qdit\n"
    "name, canonical (Diffusers) name, name in the file, quantization scheme and weight dtype/shape; a summary\n"
    "(layers per scheme, bytes per dtype, what stays float); then every problem found.\n"
    "\n"
    "PATH               a Diffusers pipeline folder, a component folder (Diffusers, native Wan, msModelSlim raw\n"
    "                   or AscendV1 output, repacked Diffusers) or a single .safetensors file\n"
    "--json             print one JSON object on stdout instead of text:\n"
    "                   {\"ok\", \"components\": [{\"name\", \"path\", \"architecture\", \"variant\", \"layers\",\n"
    "                   \"summary\", \"problems\"}]}\n"
    "--component NAME   only this component (e.g. transformer_2, low_noise_model)\n"
    "-h, --help         this text\n"
    "\n"
    "exit codes: 0 no errors (warnings allowed), 1 the checkpoint has errors or cannot be read, 2 bad usage\n";

struct Options {
  std::string path;
  bool json = false;
  std::string component;
  bool help = false;
};

Options parse(const Args& args) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      o.help = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--component" || a.rfind("--component=", 0) == 0) {
      if (a == "--component") {
        if (i + 1 >= args.size()) fail_usage("--component needs a NAME (see qdit inspect --help)");
        o.component = args[++i];
      } else {
        o.component = a.substr(std::string("--component=").size());
      }
      if (o.component.empty()) fail_usage("--component needs a non-empty NAME");
    } else if (!a.empty() && a[0] == '-') {
      fail_usage("unknown option '" + a + "' (see qdit inspect --help)");
    } else if (o.path.empty()) {
      o.path = a;
    } else {
      fail_usage("more than one PATH given ('" + o.path + "' and '" + a + "')");
    }
  }
  if (!o.help && o.path.empty()) fail_usage("missing PATH (see qdit inspect --help)");
  return o;
}

}  // namespace

int cmd_inspect(const Args& args) {
  Options o = parse(args);
  if (o.help) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  std::vector<load::ComponentPlan> plans = load::plan_checkpoint(o.path);
  if (!o.component.empty()) {
    std::vector<load::ComponentPlan> kept;
    std::string names;
    for (auto& p : plans) {
      names += (names.empty() ? "" : ", ") + p.files.name;
      if (p.files.name == o.component) kept.push_back(std::move(p));
    }
    if (kept.empty()) fail_usage("no component named '" + o.component + "' in " + o.path + " (it has: " + names + ")");
    plans = std::move(kept);
  }
  bool ok = true;
  for (const auto& p : plans) ok = ok && p.ok();
  if (o.json) {
    std::string text = load::plans_to_json(plans).dump(2);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
  } else {
    std::string text = load::plans_to_text(plans);
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
  std::fflush(stdout);
  return ok ? 0 : 1;
}

}  // namespace qdit::cli
