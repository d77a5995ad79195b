#include "qdit/quant/types.h"

#include <array>

namespace qdit::quant {

namespace {

struct Known {
  std::string_view name;
  TypeClass cls;
  SchemeId scheme;
  std::string_view meaning;
};

// modelslim-format.md §1.4 (plus the consumer-side spelling W8A8FP8_DYNAMIC, see §5 item 12).
constexpr std::array<Known, 27> kKnown = {{
    {"FLOAT", TypeClass::Runnable, SchemeId::Float, "unquantized"},
    {"W8A8", TypeClass::Runnable, SchemeId::W8A8, "int8 weight, static per-tensor int8 activation"},
    {"W8A8_DYNAMIC", TypeClass::Runnable, SchemeId::W8A8Dynamic, "int8 weight, dynamic per-token int8 activation"},
    {"W4A4_DYNAMIC", TypeClass::Runnable, SchemeId::W4A4Dynamic, "int4 weight, dynamic per-token int4 activation"},
    {"W8A16", TypeClass::Runnable, SchemeId::W8A16, "int8 weight-only"},
    {"W4A8_DYNAMIC", TypeClass::Runnable, SchemeId::W4A8Dynamic, "int4 weight, dynamic per-token int8 activation"},
    {"W8A8_MIX", TypeClass::LinearNotSupported, SchemeId::Float,
     "W8A8_MIX (prefill/decode mix carrying both static and dynamic parameter sets)"},
    {"W8A8S", TypeClass::LinearNotSupported, SchemeId::Float, "W8A8S (sparse static W8A8)"},
    {"W8A8SC", TypeClass::LinearNotSupported, SchemeId::Float,
     "W8A8SC (sparse compressed weight, proprietary NPU layout)"},
    {"W8A8_TIMESTEP", TypeClass::LinearNotSupported, SchemeId::Float,
     "W8A8_TIMESTEP (per-timestep static activation parameters)"},
    {"W4A16", TypeClass::LinearNotSupported, SchemeId::Float, "W4A16 (int4 weight-only)"},
    {"NF4", TypeClass::LinearNotSupported, SchemeId::Float, "NF4 (4-bit normal-float weight-only)"},
    {"W4A4_FLATQUANT_DYNAMIC", TypeClass::LinearNotSupported, SchemeId::Float,
     "W4A4_FLATQUANT_DYNAMIC (W4A4 with a FlatQuant Kronecker transform)"},
    {"WFP8AFP8_DYNAMIC", TypeClass::LinearNotSupported, SchemeId::Float, "WFP8AFP8_DYNAMIC (fp8 weight and activation)"},
    {"W8A8FP8_DYNAMIC", TypeClass::LinearNotSupported, SchemeId::Float,
     "W8A8FP8_DYNAMIC (fp8 weight and activation, vllm-ascend spelling)"},
    {"W8A8_MXFP8", TypeClass::LinearNotSupported, SchemeId::Float, "W8A8_MXFP8 (OCP-MX fp8, block 32)"},
    {"W4A4_MXFP4", TypeClass::LinearNotSupported, SchemeId::Float, "W4A4_MXFP4 (OCP-MX fp4, block 32)"},
    {"W4A4_MXFP4_DUALSCALE", TypeClass::LinearNotSupported, SchemeId::Float,
     "W4A4_MXFP4_DUALSCALE (OCP-MX fp4 with a second scale)"},
    {"W4A4_MXFP4_SVD", TypeClass::LinearNotSupported, SchemeId::Float, "W4A4_MXFP4_SVD (OCP-MX fp4 with SVD branch)"},
    {"W4A8_MXFP", TypeClass::LinearNotSupported, SchemeId::Float, "W4A8_MXFP (OCP-MX fp4 weight, fp8 activation)"},
    {"W4A16_MXFP4", TypeClass::LinearNotSupported, SchemeId::Float, "W4A16_MXFP4 (OCP-MX fp4 weight-only)"},
    {"W4A4_MXFP4_FLATQUANT", TypeClass::LinearNotSupported, SchemeId::Float,
     "W4A4_MXFP4_FLATQUANT (OCP-MX fp4 with a FlatQuant transform)"},
    {"W16A16S", TypeClass::LinearNotSupported, SchemeId::Float, "W16A16S (float sparse)"},
    {"W16A16SC", TypeClass::LinearNotSupported, SchemeId::Float, "W16A16SC (float sparse compressed)"},
    {"C8", TypeClass::AttentionOrCache, SchemeId::Float, "C8 (int8 KV cache)"},
    {"FAQuant", TypeClass::AttentionOrCache, SchemeId::Float, "FAQuant (FA3 attention quantization)"},
    {"FAKQuant", TypeClass::AttentionOrCache, SchemeId::Float, "FAKQuant (FA3 attention quantization, K only)"},
}};

// Wrapper decorations msModelSlim appends to a base type (MS-v1 on_flat_clip_wrapper, on_svd_wrapper). Longest
// first so "_FLATQUANT_DYNAMIC" is not read as "_DYNAMIC" after stripping "_FLATQUANT".
constexpr std::array<std::string_view, 4> kDecorations = {"_FLATQUANT_DYNAMIC", "_SVD_DYNAMIC", "_FLATQUANT", "_SVD"};

const Known* find_known(std::string_view s) {
  for (const auto& k : kKnown)
    if (k.name == s) return &k;
  return nullptr;
}

// A base before a decoration is a linear type (runnable or not), or a weight/activation stem such as "W4A4" whose
// "_DYNAMIC" form is one ("W4A4" + "_FLATQUANT_DYNAMIC").
bool is_linear_base(std::string_view base) {
  const Known* k = find_known(base);
  if (k) return k->cls == TypeClass::Runnable ? k->scheme != SchemeId::Float : k->cls == TypeClass::LinearNotSupported;
  const Known* d = find_known(std::string(base) + "_DYNAMIC");
  return d && d->cls != TypeClass::AttentionOrCache && d->scheme != SchemeId::Float;
}

}  // namespace

TypeInfo classify_type(std::string_view s) {
  if (const Known* k = find_known(s)) return TypeInfo{k->cls, k->scheme, std::string(k->meaning)};
  for (auto dec : kDecorations) {
    if (s.size() <= dec.size() || s.substr(s.size() - dec.size()) != dec) continue;
    std::string_view base = s.substr(0, s.size() - dec.size());
    if (is_linear_base(base))
      return TypeInfo{TypeClass::LinearNotSupported, SchemeId::Float,
                      std::string(s) + " (" + std::string(base) + " wrapped with " + std::string(dec.substr(1)) + ")"};
  }
  return TypeInfo{};
}

std::string not_supported_message(std::string_view type_string, const TypeInfo& info) {
  switch (info.cls) {
    case TypeClass::LinearNotSupported: return "recognised, not supported yet: " + info.meaning;
    case TypeClass::AttentionOrCache:
      return "'" + std::string(type_string) + "' is an attention/KV-cache quantization type, not a linear layer scheme";
    case TypeClass::Unknown: return "unknown quantization type '" + std::string(type_string) + "'";
    case TypeClass::Runnable: break;
  }
  return "";
}

}  // namespace qdit::quant
