// Which namespace a checkpoint's names are in, decided from names that occur in only one of them.
#include <re2/re2.h>

#include "qdit/core/error.h"
#include "qdit/models/wan/error_context.h"
#include "qdit/models/wan/rules.h"

namespace qdit::wan {

const char* namespace_name(WanNamespace ns) {
  return ns == WanNamespace::Native ? "native Wan" : "Diffusers";
}

WanNamespace detect_wan_namespace(const std::vector<std::string>& names, const std::string& file_for_errors) {
  // Block norms (norm2/norm3 mean different layers in each) and patch_embedding are in both, so they are
  // deliberately absent here.
  static const RE2 native_only(
      R"(^(blocks\.\d+\.(self_attn|cross_attn|modulation|ffn\.\d)|head\.|text_embedding\.|time_embedding\.)"
      R"(|time_projection\.|img_emb\.))");
  static const RE2 diffusers_only(
      R"(^(blocks\.\d+\.(attn1|attn2|scale_shift_table|ffn\.net\.)|condition_embedder\.|proj_out\.)"
      R"(|scale_shift_table))");
  const std::string* native_example = nullptr;
  const std::string* diffusers_example = nullptr;
  for (const std::string& n : names) {
    if (!native_example && RE2::PartialMatch(n, native_only)) native_example = &n;
    if (!diffusers_example && RE2::PartialMatch(n, diffusers_only)) diffusers_example = &n;
    if (native_example && diffusers_example) {
      fail_checkpoint("tensor names mix the native Wan and the Diffusers namespaces: '" + *native_example +
                          "' is native Wan, '" + *diffusers_example + "' is Diffusers",
                      file_context(file_for_errors, "all names in one namespace"));
    }
  }
  if (native_example) return WanNamespace::Native;
  if (diffusers_example) return WanNamespace::Diffusers;
  fail_checkpoint("no tensor name identifies a Wan DiT namespace (native Wan or Diffusers)",
                  file_context(file_for_errors,
                               "names such as 'blocks.0.self_attn.q.weight' or 'blocks.0.attn1.to_q.weight'",
                               std::to_string(names.size()) + " names" +
                                   (names.empty() ? std::string() : ", the first '" + names.front() + "'")));
}

}  // namespace qdit::wan
