// Shared by the quantize tests: tiny synthetic Wan checkpoints on disk (through the same synth code the CLI uses),
// calibration inputs, a reference forward of any checkpoint, and plain helpers to read what was written.
#pragma once
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qdit/io/safetensors.h"
#include "qdit/load/loader.h"
#include "qdit/load/plan.h"
#include "qdit/models/wan/forward/run_inputs.h"
#include "qdit/models/wan/forward/wan_model.h"
#include "qdit/quantize/synth.h"
#include "qdit/quantize/synth_inputs.h"
#include "util/test_util.h"

namespace qdit::quantize::qtest {

// A 2-block wan2.1-t2v-shaped model small enough to run in milliseconds.
inline SynthOptions tiny_synth(const std::string& out, NameSpace names = NameSpace::Diffusers,
                               DType dtype = DType::F32, const std::string& variant = "wan2.1-t2v-1.3b") {
  SynthOptions o;
  o.variant = variant;
  o.layers = 2;
  o.dim = 64;
  o.heads = 2;
  o.ffn = 128;
  o.seed = 7;
  o.dtype = dtype;
  o.names = names;
  o.out = out;
  return o;
}

// Latent 2x4x4 (8 tokens after the 2x2 patch) unless `height_width` says otherwise.
inline std::string write_inputs(const std::string& path, const SynthOptions& model, uint64_t seed,
                                float timestep = 500.0f, int64_t height_width = 4) {
  SynthInputOptions in;
  in.frames = 2, in.height = height_width, in.width = height_width, in.text_tokens = 8, in.seed = seed;
  in.timestep = timestep;
  write_synth_inputs(path, synth_config(model), in);
  return path;
}

inline load::ComponentPlan plan_one(const std::string& path, const std::string& component = "") {
  std::vector<load::ComponentPlan> plans = load::plan_checkpoint(path);
  if (component.empty()) return std::move(plans.at(0));
  for (auto& p : plans)
    if (p.files.name == component) return std::move(p);
  throw std::runtime_error("no component " + component);
}

inline std::string problems_text(const load::ComponentPlan& p) {
  std::string s;
  for (const auto& pr : p.problems) s += pr.text() + "\n";
  return s;
}

// noise_pred of one fp32 CPU forward of a planned checkpoint.
inline Tensor forward(const load::ComponentPlan& plan, const std::string& inputs_file) {
  const wan::WanWeights w = load::load_weights(plan);
  wan::ForwardOptions fo;
  fo.precision = ops::Precision::FP32;
  return wan::wan_forward(w, wan::read_run_inputs(inputs_file, plan.config), fo);
}

inline double relative_l2(const Tensor& got, const Tensor& ref) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double d = double(got.data<float>()[i]) - ref.data<float>()[i];
    num += d * d;
    den += double(ref.data<float>()[i]) * ref.data<float>()[i];
  }
  return std::sqrt(num / den);
}

inline nlohmann::ordered_json read_json(const std::string& path) {
  return nlohmann::ordered_json::parse(test::read_text(path));
}

}  // namespace qdit::quantize::qtest
