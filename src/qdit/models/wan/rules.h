// The Wan DiT rename rules, as data, between the three namespaces of loading.md §1:
//   native Wan (original repos, msModelSlim output)  <->  Diffusers (canonical)  <->  qdit runtime.
// Every rule keeps a `(.*)$` suffix so every quantization tensor (weight_scale, deq_scale, quant_bias, ...)
// follows its weight. The runtime names are fixed here; the schema derives every runtime layer name from
// these lists, never by hand. Each list is checked to round-trip over every canonical name of every variant
// (tests/models/wan).
#pragma once
#include <string>
#include <vector>

#include "qdit/names/name_map.h"

namespace qdit::wan {

// Rule lists (the NameMaps below are built from them once).
const std::vector<NameRule>& native_to_diffusers_rules();
const std::vector<NameRule>& diffusers_to_native_rules();
const std::vector<NameRule>& diffusers_to_runtime_rules();
// Merged runtime names come with their slice as a shard tag "<name>@<i>" (names/name_map.h: unmerge()).
const std::vector<NameRule>& runtime_to_diffusers_rules();

const NameMap& wan_native_to_diffusers();
const NameMap& wan_diffusers_to_native();
const NameMap& wan_diffusers_to_runtime();
const NameMap& wan_runtime_to_diffusers();

enum class WanNamespace { Native, Diffusers };
const char* namespace_name(WanNamespace ns);  // "native Wan", "Diffusers"

// Decides the namespace of a set of tensor (or description) names: native when some name only occurs in
// native Wan checkpoints (blocks.N.self_attn., head.head., text_embedding., ...), Diffusers when some name
// only occurs in Diffusers ones (blocks.N.attn1., proj_out., condition_embedder., ...). Names both share
// (patch_embedding.*) and foreign names (description metadata keys) decide nothing.
// Checkpoint error naming `file_for_errors` when both kinds occur (one example of each is named) or when no
// name decides.
WanNamespace detect_wan_namespace(const std::vector<std::string>& names, const std::string& file_for_errors);

// Maps a name of either namespace to the canonical (Diffusers) one.
inline MappedName to_canonical(WanNamespace ns, const std::string& name) {
  return ns == WanNamespace::Native ? wan_native_to_diffusers().map(name) : MappedName{name};
}

}  // namespace qdit::wan
