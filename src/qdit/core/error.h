// The one error type of qdit. It carries every piece of context a user needs to find the problem:
// the file, the tensor under the checkpoint's own name and under the canonical (Diffusers) name, the layer,
// the scheme, and what was expected versus found. Only the fields that are set appear in the message.
#pragma once
#include <stdexcept>
#include <string>
#include <utility>

namespace qdit {

// Decides the CLI exit code: Checkpoint/Io -> 1, Usage -> 2, Internal -> 3.
enum class ErrorKind { Checkpoint, Io, Usage, Internal };

struct ErrorContext {
  std::string file;             // path of the file the problem is in
  std::string tensor;           // tensor name as written in the file
  std::string canonical;        // the same tensor's canonical (Diffusers) name
  std::string layer;            // layer (canonical name, no suffix)
  std::string scheme;           // quantization scheme
  std::string expected;         // what qdit expected
  std::string found;            // what it found
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message, ErrorContext ctx = {});
  ErrorKind kind() const { return kind_; }
  const ErrorContext& context() const { return ctx_; }
  // The bare message, without the context fields.
  const std::string& message() const { return message_; }

 private:
  ErrorKind kind_;
  std::string message_;
  ErrorContext ctx_;
};

// Formats "message [file F, tensor 'T' (canonical 'C'), layer L, scheme S]: expected E, found F".
std::string format_error(const std::string& message, const ErrorContext& ctx);

// The context of a problem in one file (and optionally one of its tensors), with expected vs found.
inline ErrorContext file_context(const std::string& file, const std::string& tensor = {}, std::string expected = {},
                                 std::string found = {}) {
  ErrorContext c;
  c.file = file;
  c.tensor = tensor;
  c.expected = std::move(expected);
  c.found = std::move(found);
  return c;
}

[[noreturn]] inline void fail_checkpoint(std::string message, ErrorContext ctx = {}) {
  throw Error(ErrorKind::Checkpoint, std::move(message), std::move(ctx));
}
[[noreturn]] inline void fail_usage(std::string message, ErrorContext ctx = {}) {
  throw Error(ErrorKind::Usage, std::move(message), std::move(ctx));
}
[[noreturn]] inline void fail_io(std::string message, ErrorContext ctx = {}) {
  throw Error(ErrorKind::Io, std::move(message), std::move(ctx));
}
[[noreturn]] inline void fail_internal(std::string message, ErrorContext ctx = {}) {
  throw Error(ErrorKind::Internal, std::move(message), std::move(ctx));
}

#define QDIT_CHECK(cond, msg) \
  do {                        \
    if (!(cond)) ::qdit::fail_internal(std::string("internal check failed: ") + #cond + ": " + (msg)); \
  } while (0)

}  // namespace qdit
