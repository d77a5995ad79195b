#include "qdit/cli/cli11_parse.h"

#include <cstdio>

#include "qdit/core/error.h"

namespace qdit::cli {

bool parse_or_usage(CLI::App& app, const Args& args, int& exit_code) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 consumes a reversed vector
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    exit_code = 0;
    return false;
  } catch (const CLI::ParseError& e) {
    fail_usage(std::string(e.what()) + " (see 'qdit " + app.get_name() + " --help')");
  }
  return true;
}

}  // namespace qdit::cli
