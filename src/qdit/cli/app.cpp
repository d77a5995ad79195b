#include <cstdio>
#include <exception>
#include <new>
#include <string_view>

#include "qdit/cli/commands.h"
#include "qdit/core/error.h"

namespace qdit::cli {

namespace {

struct Command {
  std::string_view name;
  int (*fn)(const Args&);
  std::string_view summary;
};

constexpr Command kCommands[] = {
    {"inspect", cmd_inspect, "show how a checkpoint maps to the model: names, schemes, problems"},
    {"run", cmd_run, "run one DiT forward pass on inputs from a safetensors file"},
    {"synth", cmd_synth, "write a random-weight Wan checkpoint of any variant"},
    {"quantize", cmd_quantize, "quantize a float checkpoint into the ModelSlim format"},
    {"convert", cmd_convert, "rename a checkpoint between native Wan and Diffusers names"},
    {"bench", cmd_bench, "run a benchmark scenario and compare it with recorded baselines"},
};

void print_usage(FILE* out) {
  std::fprintf(out,
               "qdit: runs quantized diffusion-transformer checkpoints (Wan 2.1/2.2, msModelSlim formats)\n\n"
               "usage: qdit <command> [options]   (qdit <command> --help for its options)\n\ncommands:\n");
  for (const auto& c : kCommands)
    std::fprintf(out, "  %-10s %.*s\n", std::string(c.name).c_str(), static_cast<int>(c.summary.size()),
                 c.summary.data());
  std::fprintf(out,
               "\nexit codes: 0 success, 1 checkpoint or file problem, 2 bad usage, 3 internal error\n");
}

int exit_code_for(ErrorKind k) {
  switch (k) {
    case ErrorKind::Checkpoint:
    case ErrorKind::Io: return 1;
    case ErrorKind::Usage: return 2;
    case ErrorKind::Internal: return 3;
  }
  return 3;
}

}  // namespace

int main_entry(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  std::string_view sub = argv[1];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    print_usage(stdout);
    return 0;
  }
  Args args(argv + 2, argv + argc);
  for (const auto& c : kCommands) {
    if (c.name != sub) continue;
    try {
      return c.fn(args);
    } catch (const Error& e) {
      std::fprintf(stderr, "qdit %s: error: %s\n", argv[1], e.what());
      return exit_code_for(e.kind());
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "qdit %s: error: out of memory\n", argv[1]);
      return 3;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "qdit %s: internal error: %s\n", argv[1], e.what());
      return 3;
    }
  }
  std::fprintf(stderr, "qdit: unknown command '%s'\n\n", argv[1]);
  print_usage(stderr);
  return 2;
}

}  // namespace qdit::cli
