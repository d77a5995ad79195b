// Every type string msModelSlim (and its consumers) write into a description (modelslim-format.md §1.4), sorted
// into what qdit runs and what it only recognises. A recognised-but-not-runnable string never becomes a SchemeId,
// so it can never be mistaken for another scheme; an unknown string is an error at its use.
#pragma once
#include <string>
#include <string_view>

#include "qdit/quant/linear.h"

namespace qdit::quant {

enum class TypeClass : uint8_t {
  Runnable,             // a linear scheme qdit runs: `scheme` is set
  LinearNotSupported,   // a linear-layer type qdit recognises but does not run yet (MX, FlatQuant, sparse, ...)
  AttentionOrCache,     // C8, FAQuant, FAKQuant: attention / KV-cache quantization, never a linear layer's type
  Unknown,              // not a type string qdit knows
};

struct TypeInfo {
  TypeClass cls = TypeClass::Unknown;
  SchemeId scheme = SchemeId::Float;  // meaningful only when cls == Runnable
  // For anything not runnable: what the string means, for the "recognised, not supported yet" message.
  std::string meaning;
};

// Classifies one type string exactly as written (case-sensitive: ModelSlim writes them in one spelling).
TypeInfo classify_type(std::string_view type_string);

// The message for a layer whose type is recognised but not run: "recognised, not supported yet: <meaning>".
std::string not_supported_message(std::string_view type_string, const TypeInfo& info);

}  // namespace qdit::quant
