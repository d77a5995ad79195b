// One entry point per subcommand; each lives in its own cmd_<name>.cpp. They receive the arguments after the
// subcommand name, print to stdout/stderr, and return the process exit code or throw qdit::Error.
#pragma once
#include <string>
#include <vector>

namespace qdit::cli {

using Args = std::vector<std::string>;

int cmd_inspect(const Args& args);
int cmd_run(const Args& args);
int cmd_synth(const Args& args);
int cmd_quantize(const Args& args);
int cmd_convert(const Args& args);
int cmd_bench(const Args& args);

// Dispatches argv to a subcommand; maps errors to exit codes (0 ok, 1 checkpoint/io problem, 2 usage, 3 internal).
int main_entry(int argc, char** argv);

}  // namespace qdit::cli
