// --exclude patterns: shell globs (fnmatch, '*' also crosses dots) matched against canonical (Diffusers) layer
// names, e.g. '*ffn.net.2*' keeps every FFN down projection in float as msModelSlim's Wan recipe does.
#pragma once
#include <string>
#include <vector>

namespace qdit::quantize {

class ExcludeGlobs {
 public:
  ExcludeGlobs() = default;
  // An empty pattern is a Usage error (it would match nothing and hide a typo).
  explicit ExcludeGlobs(std::vector<std::string> patterns);
  // True when any pattern matches `canonical_layer` or `canonical_layer + ".weight"`, so a user may write either
  // 'blocks.0.attn1.to_q' or 'blocks.0.attn1.to_q.weight'.
  bool excludes(const std::string& canonical_layer) const;
  const std::vector<std::string>& patterns() const { return patterns_; }
  // Patterns that matched no layer so far: reported so that a mistyped exclude is not silently ignored.
  std::vector<std::string> unused() const;

 private:
  std::vector<std::string> patterns_;
  mutable std::vector<bool> used_;
};

}  // namespace qdit::quantize
