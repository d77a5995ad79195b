#include "qdit/core/dtype.h"

namespace qdit {

namespace {
struct DTypeInfo {
  DType type;
  std::string_view name;
  size_t size;
};
constexpr DTypeInfo kTable[] = {
    {DType::F64, "F64", 8},     {DType::F32, "F32", 4},         {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},   {DType::I64, "I64", 8},         {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},     {DType::I8, "I8", 1},           {DType::U8, "U8", 1},
    {DType::BOOL, "BOOL", 1},   {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E5M2, "F8_E5M2", 1},
};
}  // namespace

size_t dtype_size(DType t) { return kTable[static_cast<int>(t)].size; }
std::string_view dtype_name(DType t) { return kTable[static_cast<int>(t)].name; }

std::optional<DType> parse_dtype(std::string_view s) {
  for (const auto& e : kTable)
    if (e.name == s) return e.type;
  return std::nullopt;
}

}  // namespace qdit
