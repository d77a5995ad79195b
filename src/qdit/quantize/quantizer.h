// `qdit quantize`: a float Wan checkpoint (any layout qdit reads, either namespace, F32/BF16/F16) in, a ModelSlim
// checkpoint out, per transformer component:
//  - every quantizable linear (schema: in-block linears and proj_out) not matched by --exclude is quantized to the
//    target scheme with per-channel symmetric weights; everything else (embedder MLPs, patch embedding, norms,
//    modulation tables, excluded layers) is copied unchanged and typed FLOAT, as are the float biases;
//  - the description lists every tensor written, in write order;
//  - static W8A8 takes its activation ranges from calibration runs of the float model (calibration.h);
//  - tensors are declared first and then produced and written one layer at a time, so memory stays at one
//    layer's worth beyond the source mmap.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "qdit/quant/linear.h"
#include "qdit/quantize/output_layout.h"

namespace qdit::quantize {

struct QuantizeOptions {
  std::string src, out;
  SchemeId scheme = SchemeId::W8A8Dynamic;  // W8A8, W8A8Dynamic, W4A4Dynamic or W8A16
  std::vector<std::string> excludes;        // globs on canonical layer names
  std::vector<std::string> calibration;     // static W8A8 only
  OutputLayout layout = OutputLayout::AscendV1;
  // Output names. Default: the source's namespace for ascendv1, native for mindie (the raw msModelSlim form),
  // Diffusers for repacked (the only namespace that layout has; asking for native there is a Usage error).
  std::optional<NameSpace> names;
  bool progress = false;
};

struct ComponentReport {
  std::string name;              // source component ("transformer", "high_noise_model", ...)
  std::string dir;               // output folder
  std::string weights_file, description_file;
  std::string model_quant_type;
  NameSpace names = NameSpace::Diffusers;
  int quantized_layers = 0, float_layers = 0;
  int64_t tensors = 0, bytes = 0;
};

struct QuantizeReport {
  std::vector<ComponentReport> components;
  std::vector<std::string> warnings;  // e.g. an --exclude that matched nothing, source-plan warnings
};

// Usage errors for inconsistent options (w8a8 without --calibration, --calibration with another scheme, a native
// repacked output); Checkpoint errors (with the source plan's first problem) for a source qdit cannot read or that
// is already quantized.
QuantizeReport quantize_checkpoint(const QuantizeOptions& opt);

}  // namespace qdit::quantize
