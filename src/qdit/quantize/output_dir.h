// The folder a command writes a checkpoint into. It must be new or empty: writing a second checkpoint over an
// old one would leave two descriptions or two weight layouts side by side, which a loader cannot tell apart.
#pragma once
#include <string>

namespace qdit::quantize {

// Creates `dir` (and its parents) when missing. A non-empty folder is a Usage error naming it; an uncreatable one
// is an Io error. `flag` names the option in the message ("--out").
void prepare_output_dir(const std::string& dir, const std::string& flag = "--out");

}  // namespace qdit::quantize
