// Checks that a WanWeights is complete and consistent with its config and lives on one device, before the
// forward touches it: a loader bug or a hand-built model then fails with the runtime layer named, never with a
// crash inside a kernel.
#pragma once
#include "qdit/models/wan/weights.h"

namespace qdit::wan {

// Throws a Checkpoint error naming the runtime layer and the expected vs found shape/dtype, or a Usage error
// when a tensor lives on another device than `device`.
void check_weights(const WanWeights& weights, Device device);

}  // namespace qdit::wan
