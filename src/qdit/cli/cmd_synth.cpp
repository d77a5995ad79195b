// qdit synth: writes a random-weight Wan checkpoint (see quantize/synth.h).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "qdit/cli/cli11_parse.h"
#include "qdit/cli/commands.h"
#include "qdit/core/error.h"
#include "qdit/quantize/synth.h"
#include "qdit/quantize/synth_inputs.h"

namespace qdit::cli {

namespace {

DType parse_float_dtype(const std::string& s) {
  if (s == "f32") return DType::F32;
  if (s == "bf16") return DType::BF16;
  if (s == "f16") return DType::F16;
  ErrorContext c;
  c.expected = "f32, bf16 or f16";
  c.found = s;
  fail_usage("unknown --dtype '" + s + "'", c);
}

}  // namespace

int cmd_synth(const Args& args) {
  CLI::App app("Writes a random-weight Wan checkpoint of any variant (weights scaled like a trained model's).",
               "synth");
  quantize::SynthOptions opt;
  std::string dtype = "bf16", names = "diffusers";
  int64_t layers = 0, dim = 0, heads = 0, ffn = 0;
  app.add_option("--variant", opt.variant,
                 "wan2.1-t2v-1.3b, wan2.1-t2v-14b, wan2.1-i2v-14b, wan2.2-t2v-a14b, wan2.2-i2v-a14b, wan2.2-ti2v-5b")
      ->required();
  auto* o_layers = app.add_option("--layers", layers, "number of transformer blocks (default: the variant's)");
  auto* o_dim = app.add_option("--dim", dim, "model width D (default: the variant's)");
  auto* o_heads = app.add_option("--heads", heads, "attention heads (default: keep head dim 128)");
  auto* o_ffn = app.add_option("--ffn", ffn, "FFN width F (default: the variant's)");
  app.add_option("--seed", opt.seed, "random seed (default 0)");
  app.add_option("--dtype", dtype, "f32, bf16 (default) or f16");
  app.add_option("--names", names, "diffusers (default) or native parameter names");
  app.add_option("--out", opt.out, "output folder for the checkpoint");
  std::string inputs, latent = "2x8x8";
  quantize::SynthInputOptions in;
  app.add_option("--inputs", inputs,
                 "also (or only) write random forward inputs for this model, in `qdit run` / --calibration form");
  app.add_option("--latent", latent, "latent grid TxHxW of --inputs (default 2x8x8)");
  app.add_option("--text-tokens", in.text_tokens, "valid text tokens of --inputs (default 16)");
  app.add_option("--timestep", in.timestep, "timestep of --inputs (default 500)");
  int code = 0;
  if (!parse_or_usage(app, args, code)) return code;
  if (opt.out.empty() && inputs.empty()) fail_usage("nothing to write: give --out DIR and/or --inputs FILE");
  if (std::sscanf(latent.c_str(), "%ldx%ldx%ld", &in.frames, &in.height, &in.width) != 3) {
    ErrorContext c;
    c.expected = "TxHxW, e.g. 2x8x8";
    c.found = latent;
    fail_usage("cannot read --latent", c);
  }
  if (*o_layers) opt.layers = layers;
  if (*o_dim) opt.dim = dim;
  if (*o_heads) opt.heads = heads;
  if (*o_ffn) opt.ffn = ffn;
  opt.dtype = parse_float_dtype(dtype);
  opt.names = quantize::parse_name_space(names);
  opt.progress = isatty(STDERR_FILENO) == 1;
  if (!opt.out.empty()) {
    const quantize::SynthResult r = quantize::synthesize(opt);
    std::printf("synth: wrote %lld tensors (%.1f MB) to %s\n", static_cast<long long>(r.tensors),
                static_cast<double>(r.bytes) / 1e6, opt.out.c_str());
  }
  if (!inputs.empty()) {
    in.seed = opt.seed;
    quantize::write_synth_inputs(inputs, quantize::synth_config(opt), in);
    std::printf("synth: wrote forward inputs (latent %s, %lld text tokens) to %s\n", latent.c_str(),
                static_cast<long long>(in.text_tokens), inputs.c_str());
  }
  return 0;
}

}  // namespace qdit::cli
