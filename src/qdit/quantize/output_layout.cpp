#include "qdit/quantize/output_layout.h"

#include <algorithm>
#include <cctype>

#include "qdit/core/error.h"

namespace qdit::quantize {

namespace {
ErrorContext expected_found(std::string expected, std::string found) {
  ErrorContext c;
  c.expected = std::move(expected);
  c.found = std::move(found);
  return c;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}
}  // namespace

OutputLayout parse_output_layout(const std::string& s) {
  if (s == "ascendv1") return OutputLayout::AscendV1;
  if (s == "mindie") return OutputLayout::MindIE;
  if (s == "repacked") return OutputLayout::Repacked;
  fail_usage("unknown --layout '" + s + "'", expected_found("ascendv1, mindie or repacked", s));
}

NameSpace parse_name_space(const std::string& s) {
  if (s == "diffusers") return NameSpace::Diffusers;
  if (s == "native") return NameSpace::Native;
  fail_usage("unknown --names '" + s + "'", expected_found("diffusers or native", s));
}

const char* layout_name(OutputLayout l) {
  switch (l) {
    case OutputLayout::AscendV1: return "ascendv1";
    case OutputLayout::MindIE: return "mindie";
    case OutputLayout::Repacked: return "repacked";
  }
  return "?";
}

const char* name_space_name(NameSpace n) { return n == NameSpace::Diffusers ? "diffusers" : "native"; }

std::string description_file_name(OutputLayout l, const std::string& model_quant_type) {
  if (l == OutputLayout::MindIE) return "quant_model_description_" + lower(model_quant_type) + ".json";
  return "quant_model_description.json";
}

std::string weights_file_name(OutputLayout l, const std::string& model_quant_type) {
  switch (l) {
    case OutputLayout::AscendV1: return "quant_model_weights.safetensors";
    case OutputLayout::MindIE: return "quant_model_weight_" + lower(model_quant_type) + ".safetensors";
    case OutputLayout::Repacked: return "diffusion_pytorch_model.safetensors";
  }
  return "";
}

bool writes_ascendv1_metadata(OutputLayout l) { return l != OutputLayout::MindIE; }

bool deq_scale_as_int64(OutputLayout l, bool source_is_bf16) {
  return l != OutputLayout::MindIE && !source_is_bf16;
}

std::string component_folder(NameSpace n, int expert_index) {
  if (n == NameSpace::Diffusers) return expert_index == 0 ? "transformer" : "transformer_2";
  return expert_index == 0 ? "high_noise_model" : "low_noise_model";
}

int component_expert_index(const std::string& folder_name) {
  return folder_name == "transformer_2" || folder_name == "low_noise_model" ? 1 : 0;
}

}  // namespace qdit::quantize
