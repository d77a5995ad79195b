// Runs a CLI11 parser the qdit way: bad usage becomes a qdit Usage error (exit code 2) that points at the
// subcommand's --help; --help itself prints the help text and asks the caller to exit 0.
#pragma once
#include <CLI/CLI.hpp>

#include "qdit/cli/commands.h"

namespace qdit::cli {

// Returns true when the caller should go on; false (with exit_code set) when --help was answered.
bool parse_or_usage(CLI::App& app, const Args& args, int& exit_code);

}  // namespace qdit::cli
