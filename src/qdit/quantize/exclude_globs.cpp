#include "qdit/quantize/exclude_globs.h"

#include <fnmatch.h>

#include "qdit/core/error.h"

namespace qdit::quantize {

ExcludeGlobs::ExcludeGlobs(std::vector<std::string> patterns)
    : patterns_(std::move(patterns)), used_(patterns_.size(), false) {
  for (const auto& p : patterns_)
    if (p.empty()) fail_usage("--exclude needs a non-empty glob (e.g. '*ffn.net.2*')");
}

bool ExcludeGlobs::excludes(const std::string& canonical_layer) const {
  const std::string with_weight = canonical_layer + ".weight";
  bool hit = false;
  for (size_t i = 0; i < patterns_.size(); ++i) {
    const char* p = patterns_[i].c_str();
    if (fnmatch(p, canonical_layer.c_str(), 0) == 0 || fnmatch(p, with_weight.c_str(), 0) == 0) {
      used_[i] = true;
      hit = true;
    }
  }
  return hit;
}

std::vector<std::string> ExcludeGlobs::unused() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < patterns_.size(); ++i)
    if (!used_[i]) out.push_back(patterns_[i]);
  return out;
}

}  // namespace qdit::quantize
