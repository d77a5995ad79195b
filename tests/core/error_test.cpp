#include <gtest/gtest.h>

#include "qdit/core/error.h"

namespace qdit {

TEST(Error, MessageNamesEveryContextField) {
  ErrorContext c;
  c.file = "/m/quant_model_weights.safetensors";
  c.tensor = "blocks.0.ffn.2.weight_scale";
  c.canonical = "blocks.0.ffn.net.2.weight_scale";
  c.layer = "blocks.0.ffn.net.2";
  c.scheme = "W8A8_DYNAMIC";
  c.expected = "F32 [64, 1]";
  c.found = "I8 [64]";
  Error e(ErrorKind::Checkpoint, "wrong dtype", c);
  EXPECT_EQ(std::string(e.what()),
            "wrong dtype [file /m/quant_model_weights.safetensors, tensor 'blocks.0.ffn.2.weight_scale' "
            "(canonical 'blocks.0.ffn.net.2.weight_scale'), layer blocks.0.ffn.net.2, scheme W8A8_DYNAMIC]: "
            "expected F32 [64, 1], found I8 [64]");
  EXPECT_EQ(e.kind(), ErrorKind::Checkpoint);
}

TEST(Error, BareMessageHasNoBrackets) {
  Error e(ErrorKind::Usage, "bad flag");
  EXPECT_STREQ(e.what(), "bad flag");
}

}  // namespace qdit
