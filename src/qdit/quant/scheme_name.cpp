#include "qdit/quant/linear.h"

namespace qdit {

const char* scheme_name(SchemeId s) {
  switch (s) {
    case SchemeId::Float: return "FLOAT";
    case SchemeId::W8A8: return "W8A8";
    case SchemeId::W8A8Dynamic: return "W8A8_DYNAMIC";
    case SchemeId::W4A4Dynamic: return "W4A4_DYNAMIC";
    case SchemeId::W8A16: return "W8A16";
    case SchemeId::W4A8Dynamic: return "W4A8_DYNAMIC";
  }
  return "?";
}

}  // namespace qdit
