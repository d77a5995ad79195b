// Reverse mapping of fused names and the round-trip check that every rule list must pass (loading.md §2:
// the reference never checked that its hand-written reverse list inverts the forward one).
#include "qdit/names/name_map.h"

namespace qdit {

std::string shard_tagged(const std::string& runtime_name, int merge_index) {
  if (merge_index < 0) return runtime_name;
  return runtime_name + kShardTag + std::to_string(merge_index);
}

MappedName unmerge(const NameMap& reverse, const std::string& runtime_name, int merge_index) {
  MappedName back = reverse.map(shard_tagged(runtime_name, merge_index));
  // A tag left in the result means no merged reverse rule claimed this slice; the string is no tensor name.
  if (merge_index >= 0 && back.name.find(kShardTag) != std::string::npos) back.dropped = true;
  return back;
}

std::vector<std::string> round_trip_failures(const NameMap& forward, const NameMap& reverse,
                                             const std::vector<std::string>& names) {
  std::vector<std::string> failures;
  for (const std::string& name : names) {
    const MappedName there = forward.map(name);
    if (there.dropped) {
      failures.push_back(name);
      continue;
    }
    const MappedName back = unmerge(reverse, there.name, there.merge_index);
    if (back.dropped || back.name != name) failures.push_back(name);
  }
  return failures;
}

}  // namespace qdit
