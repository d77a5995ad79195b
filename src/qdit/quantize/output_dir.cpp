#include "qdit/quantize/output_dir.h"

#include <filesystem>

#include "qdit/core/error.h"

namespace qdit::quantize {

namespace fs = std::filesystem;

void prepare_output_dir(const std::string& dir, const std::string& flag) {
  ErrorContext c;
  c.file = dir;
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) {
      c.expected = "a folder";
      c.found = "a file";
      fail_usage(flag + " must name a folder", c);
    }
    if (!fs::is_empty(dir, ec)) {
      c.expected = "a new or empty folder";
      c.found = "a folder with files in it";
      fail_usage(flag + " " + dir + " is not empty: choose a new folder (qdit does not write one checkpoint over another)",
                 c);
    }
    return;
  }
  fs::create_directories(dir, ec);
  if (ec) fail_io("cannot create the output folder: " + ec.message(), c);
}

}  // namespace qdit::quantize
