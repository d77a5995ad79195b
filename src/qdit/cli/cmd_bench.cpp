#include "qdit/cli/commands.h"
#include "qdit/core/error.h"

namespace qdit::cli {

// Placeholder until the subcommand lands: says so plainly instead of pretending.
int cmd_bench(const Args&) { fail_usage("'qdit bench' is not implemented yet"); }

}  // namespace qdit::cli
