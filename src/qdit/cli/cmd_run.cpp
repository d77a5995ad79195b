#include "qdit/cli/commands.h"
#include "qdit/core/error.h"

namespace qdit::cli {

// Placeholder until the subcommand lands: says so plainly instead of pretending.
int cmd_run(const Args&) { fail_usage("'qdit run' is not implemented yet"); }

}  // namespace qdit::cli
