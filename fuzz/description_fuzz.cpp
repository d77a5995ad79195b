// libFuzzer target for the ModelSlim description parser (quant/description.h) and the type-string classifier
// (quant/types.h). The input is the text of a quant_model_description*.json. The only acceptable outcomes are a
// Description or a qdit::Error; any other exception escapes to libFuzzer and is reported as a crash. On success
// the split into metadata and tensor entries is re-checked against the header's contract and every type string
// (each entry's, model_quant_type, and the raw input itself) goes through the classifier.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "qdit/core/error.h"
#include "qdit/quant/description.h"
#include "qdit/quant/linear.h"
#include "qdit/quant/types.h"

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The classifier's promises, independent of how it reaches them.
void check_classification(std::string_view type_string) {
  using qdit::SchemeId;
  using qdit::quant::TypeClass;
  const qdit::quant::TypeInfo info = qdit::quant::classify_type(type_string);
  const std::string message = qdit::quant::not_supported_message(type_string, info);
  switch (info.cls) {
    case TypeClass::Runnable:
      // Exactly the six scheme spellings are runnable, and each names its own scheme.
      if (type_string != qdit::scheme_name(info.scheme)) std::abort();
      if (!message.empty()) std::abort();
      break;
    case TypeClass::LinearNotSupported:
    case TypeClass::AttentionOrCache:
      if (info.meaning.empty() || message.empty()) std::abort();
      // A not-runnable string never carries a scheme that could be mistaken for a runnable one.
      if (info.scheme != SchemeId::Float) std::abort();
      break;
    case TypeClass::Unknown:
      if (message.find(type_string) == std::string::npos) std::abort();
      break;
  }
  // A runnable spelling with a wrapper decoration is never runnable.
  for (std::string_view dec : {"_FLATQUANT", "_SVD", "_FLATQUANT_DYNAMIC", "_SVD_DYNAMIC"}) {
    if (ends_with(type_string, dec) && type_string.size() > dec.size() && info.cls == TypeClass::Runnable) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  check_classification(text);  // type strings come from the file as arbitrary bytes too

  qdit::quant::Description d;
  try {
    d = qdit::quant::parse_description_text(text, "<fuzz input>");
  } catch (const qdit::Error&) {
    return 0;
  }

  if (d.path != "<fuzz input>") std::abort();
  if (d.group_size < 0) std::abort();
  // Every key lands in exactly one of the two maps; a string-valued non-metadata key is a tensor entry.
  for (const auto& [name, type] : d.entries) {
    if (qdit::quant::is_metadata_key(name)) std::abort();
    if (d.metadata.count(name) != 0) std::abort();
    const std::string* found = d.type_of(name);
    if (found == nullptr || *found != type) std::abort();
    check_classification(type);
  }
  for (const auto& [key, dumped] : d.metadata) {
    if (dumped.empty()) std::abort();
    if (d.type_of(key) != nullptr) std::abort();
  }
  // The typed metadata fields agree with what was kept verbatim.
  if (d.version.has_value() != (d.metadata.count("version") != 0)) std::abort();
  if (d.is_version_1() && *d.version != "1.0.0") std::abort();
  if (!d.model_quant_type.empty() && d.metadata.count("model_quant_type") == 0) std::abort();
  if (d.group_size != 0 && d.metadata.count("group_size") == 0) std::abort();
  check_classification(d.model_quant_type);
  return 0;
}
