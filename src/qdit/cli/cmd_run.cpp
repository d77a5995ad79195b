// `qdit run MODEL --inputs IN.safetensors --output OUT.safetensors [...]`: one DiT forward pass of a checkpoint
// on inputs read from a file (the format is in models/wan/forward/run_inputs.h). The checkpoint is planned and
// loaded exactly as `qdit inspect` reports it.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "qdit/cli/commands.h"
#include "qdit/core/error.h"
#include "qdit/core/parallel.h"
#include "qdit/load/loader.h"
#include "qdit/load/plan.h"
#include "qdit/models/wan/forward/run_inputs.h"
#include "qdit/models/wan/forward/wan_model.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/cuda_ops.h"
#endif

namespace qdit::cli {

namespace {

constexpr const char* kHelp =
    "usage: qdit run MODEL --inputs IN.safetensors --output OUT.safetensors [--component NAME]\n"
    "                [--precision fp32|bf16] [--threads N] [--device cpu|cuda]\n"
    "                [--self-attention-qk as-precision|int8|int8-e4m3pv] [--json]\n"
    "\n"
    "Runs one forward pass of the Wan DiT in MODEL and writes its noise prediction.\n"
    "\n"
    "MODEL              any checkpoint `qdit inspect` accepts (pipeline tree, component folder, msModelSlim or\n"
    "                   AscendV1 output, repacked Diffusers, a single .safetensors file)\n"
    "--inputs IN        safetensors with hidden_states F32 [Cin,T,H,W] (or [1,Cin,T,H,W]), timestep F32/I64 [1]\n"
    "                   or [L] (one per video token), encoder_hidden_states F32 [n,text_dim] with n <= 512, and\n"
    "                   for Wan2.1 I2V encoder_hidden_states_image F32 [257,1280]\n"
    "--output OUT       written with noise_pred F32 [Cout,T,H,W]\n"
    "--component NAME   which transformer of a multi-component checkpoint (default: transformer, or the only one)\n"
    "--precision P      fp32 (CPU default): fp32 activations, exact integer arithmetic for quantized layers;\n"
    "                   bf16 (GPU default): bf16 GEMM/attention inputs, fp32 residual, norms and time MLP\n"
    "--threads N        CPU threads (default: all cores)\n"
    "--device D         cpu or cuda (default: cuda when this build has CUDA and a GPU is present, else cpu)\n"
    "--self-attention-qk Q\n"
    "                   as-precision (default): self-attention at --precision; int8: q.k^T in int8 (Hopper\n"
    "                   kernel); int8-e4m3pv: int8 q.k^T and P.V in e4m3, the fastest (docs/numerics.md has the\n"
    "                   error of each); the int8 forms need --device cuda, bf16 and head_dim 128\n"
    "--json             print a JSON summary (times, shape, precision, device) on stdout\n"
    "-h, --help         this text\n"
    "\n"
    "exit codes: 0 ok, 1 checkpoint or input file problem, 2 bad usage, 3 internal error\n";

struct Options {
  std::string model, inputs, output, component, precision, device;
  ops::AttentionQk self_attention_qk = ops::AttentionQk::AsPrecision;
  int threads = 0;
  bool json = false, help = false;
};

Options parse(const Args& args) {
  Options o;
  auto value = [&](size_t& i, const std::string& flag) -> std::string {
    const std::string& a = args[i];
    std::string v;
    if (a == flag) {
      if (i + 1 >= args.size()) fail_usage(flag + " needs a value (see qdit run --help)");
      v = args[++i];
    } else {
      v = a.substr(flag.size() + 1);
    }
    if (v.empty()) fail_usage(flag + " needs a non-empty value");
    return v;
  };
  auto is = [](const std::string& a, const char* flag) {
    const std::string f(flag);
    return a == f || a.rfind(f + "=", 0) == 0;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      o.help = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (is(a, "--inputs")) {
      o.inputs = value(i, "--inputs");
    } else if (is(a, "--output")) {
      o.output = value(i, "--output");
    } else if (is(a, "--component")) {
      o.component = value(i, "--component");
    } else if (is(a, "--precision")) {
      o.precision = value(i, "--precision");
      if (o.precision != "fp32" && o.precision != "bf16")
        fail_usage("--precision must be fp32 or bf16, not '" + o.precision + "'");
    } else if (is(a, "--device")) {
      o.device = value(i, "--device");
      if (o.device != "cpu" && o.device != "cuda") fail_usage("--device must be cpu or cuda, not '" + o.device + "'");
    } else if (is(a, "--self-attention-qk")) {
      const std::string v = value(i, "--self-attention-qk");
      if (!ops::attention_qk_from_name(v, o.self_attention_qk))
        fail_usage("--self-attention-qk must be " + ops::attention_qk_choices() + ", not '" + v + "'");
    } else if (is(a, "--threads")) {
      const std::string v = value(i, "--threads");
      size_t used = 0;
      long n = 0;
      try {
        n = std::stol(v, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != v.size() || n < 1 || n > 4096) fail_usage("--threads must be a positive integer, not '" + v + "'");
      o.threads = static_cast<int>(n);
    } else if (!a.empty() && a[0] == '-') {
      fail_usage("unknown option '" + a + "' (see qdit run --help)");
    } else if (o.model.empty()) {
      o.model = a;
    } else {
      fail_usage("more than one MODEL given ('" + o.model + "' and '" + a + "')");
    }
  }
  if (o.help) return o;
  if (o.model.empty()) fail_usage("missing MODEL (see qdit run --help)");
  if (o.inputs.empty()) fail_usage("missing --inputs IN.safetensors");
  if (o.output.empty()) fail_usage("missing --output OUT.safetensors");
  return o;
}

bool gpu_present() {
#ifdef QDIT_WITH_CUDA
  return ops::cuda::device_available();
#else
  return false;
#endif
}

Device pick_device(const std::string& flag) {
  if (flag == "cpu") return Device::CPU;
  if (flag == "cuda") {
#ifndef QDIT_WITH_CUDA
    fail_usage("--device cuda: this qdit was built without the CUDA backend");
#endif
    if (!gpu_present()) fail_usage("--device cuda: no usable CUDA GPU is present");
    return Device::CUDA;
  }
  return gpu_present() ? Device::CUDA : Device::CPU;
}

load::ComponentPlan pick_component(std::vector<load::ComponentPlan> plans, const std::string& model,
                                   const std::string& wanted) {
  std::string names;
  for (const auto& p : plans) names += (names.empty() ? "" : ", ") + p.files.name;
  const std::string choice = !wanted.empty() ? wanted : plans.size() == 1 ? plans[0].files.name : "transformer";
  for (auto& p : plans)
    if (p.files.name == choice) return std::move(p);
  if (wanted.empty())
    fail_usage(model + " has several components (" + names + "): pick one with --component");
  fail_usage("no component named '" + wanted + "' in " + model + " (it has: " + names + ")");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int cmd_run(const Args& args) {
  const Options o = parse(args);
  if (o.help) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const Device device = pick_device(o.device);
  const std::string precision = !o.precision.empty() ? o.precision : device == Device::CUDA ? "bf16" : "fp32";
  if (o.threads > 0) set_num_threads(o.threads);
  const ops::Precision qk_precision = precision == "bf16" ? ops::Precision::BF16 : ops::Precision::FP32;
  // Checked before the (expensive) load at the head_dim of every released Wan model, then at the model's own.
  if (!ops::attention_qk_available(o.self_attention_qk, device, qk_precision, 128))
    fail_usage(std::string("--self-attention-qk ") + ops::attention_qk_name(o.self_attention_qk) +
               " is a CUDA kernel for bf16 precision: give --device cuda (and not --precision fp32)");
  const auto t_start = std::chrono::steady_clock::now();

  // Plan (headers only), then the inputs against the planned config, and only then the expensive weight load.
  load::ComponentPlan plan = pick_component(load::plan_checkpoint(o.model), o.model, o.component);
  std::vector<load::Problem> warnings;
  if (!plan.ok()) {
    load::load_weights(plan, &warnings);  // refuses a plan with errors, naming the first one
    fail_internal("the loader accepted a plan with errors");
  }
  if (!ops::attention_qk_available(o.self_attention_qk, device, qk_precision, plan.config.head_dim()))
    fail_usage(std::string("--self-attention-qk ") + ops::attention_qk_name(o.self_attention_qk) +
               " needs head_dim 128 (every released Wan model's); this model has head_dim " +
               std::to_string(plan.config.head_dim()));
  const wan::WanInputs inputs = wan::read_run_inputs(o.inputs, plan.config);
  wan::WanWeights weights = wan::weights_to_device(load::load_weights(plan, &warnings), device);
  for (const load::Problem& p : plan.problems)
    if (p.severity == load::Severity::Warning) warnings.push_back(p);
  for (const load::Problem& w : warnings) std::fprintf(stderr, "qdit run: warning: %s\n", w.text().c_str());
  const double load_s = seconds_since(t_start);

  wan::ForwardOptions fo;
  fo.device = device;
  fo.precision = precision == "bf16" ? ops::Precision::BF16 : ops::Precision::FP32;
  fo.self_attention_qk = o.self_attention_qk;
  const bool show_progress = isatty(STDERR_FILENO) != 0;
  if (show_progress)
    fo.progress = [](int64_t done, int64_t total) {
      std::fprintf(stderr, "\rqdit run: block %lld/%lld", static_cast<long long>(done), static_cast<long long>(total));
      if (done == total) std::fputc('\n', stderr);
      std::fflush(stderr);
    };
  const auto t_forward = std::chrono::steady_clock::now();
  const Tensor noise_pred = wan::wan_forward(weights, inputs, fo);
  const double forward_s = seconds_since(t_forward);
  wan::write_noise_pred(o.output, noise_pred);
  const double total_s = seconds_since(t_start);

  const char* device_name = device == Device::CUDA ? "cuda" : "cpu";
  if (o.json) {
    nlohmann::json j = {{"ok", true},
                        {"model", o.model},
                        {"component", plan.files.name},
                        {"variant", plan.config.variant},
                        {"device", device_name},
                        {"precision", precision},
                        {"self_attention_qk", ops::attention_qk_name(o.self_attention_qk)},
                        {"threads", num_threads()},
                        {"blocks", plan.config.num_layers},
                        {"output", o.output},
                        {"shape", noise_pred.shape()},
                        {"seconds", {{"load", load_s}, {"forward", forward_s}, {"total", total_s}}},
                        {"warnings", warnings.size()}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("noise_pred %s written to %s (%s, %s, %s: load %.3f s, forward %.3f s)\n",
                shape_str(noise_pred.shape()).c_str(), o.output.c_str(), plan.files.name.c_str(), device_name,
                precision.c_str(), load_s, forward_s);
  }
  return 0;
}

}  // namespace qdit::cli
