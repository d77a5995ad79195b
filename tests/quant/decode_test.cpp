#include "qdit/quant/decode.h"

#include <gtest/gtest.h>

#include <cstring>

#include "qdit/core/half.h"

namespace qdit::quant {
namespace {

TEST(Decode, DeqScaleBitsRoundTrip) {
  // 0.001f has bit pattern 0x3A83126F; msModelSlim stores it as that int32, sign-extended to int64.
  EXPECT_EQ(encode_deq_scale_bits(0.001f), 0x3A83126FLL);
  EXPECT_EQ(decode_deq_scale_bits(0x3A83126FLL), 0.001f);
  // A negative value has the sign bit set: sign extension fills the high word, decoding ignores it.
  EXPECT_EQ(encode_deq_scale_bits(-2.0f), static_cast<int64_t>(static_cast<int32_t>(0xC0000000u)));
  EXPECT_EQ(decode_deq_scale_bits(encode_deq_scale_bits(-2.0f)), -2.0f);
  // A value-cast would give 981668463.0: the bug this guards against.
  EXPECT_NE(decode_deq_scale_bits(0x3A83126FLL), 981668463.0f);
}

TEST(Decode, DeqScaleI64AndF32GiveTheSameValues) {
  const float vals[] = {1.5e-4f, 3.25e-3f, 0.0625f, 7.0f};
  Tensor i64 = Tensor::empty({4}, DType::I64), f32 = Tensor::empty({4}, DType::F32);
  for (int i = 0; i < 4; ++i) {
    i64.data<int64_t>()[i] = encode_deq_scale_bits(vals[i]);
    f32.data<float>()[i] = vals[i];
  }
  Tensor a = decode_deq_scale(i64), b = decode_deq_scale(f32);
  ASSERT_EQ(a.dtype(), DType::F32);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(a.data<float>()[i], vals[i]);
    EXPECT_EQ(b.data<float>()[i], vals[i]);
  }
  EXPECT_EQ(b.raw(), f32.raw());  // F32 is taken as is, no copy
}

TEST(Decode, WidenIsExact) {
  Tensor bf = Tensor::empty({2, 1}, DType::BF16), h = Tensor::empty({2, 1}, DType::F16);
  bf.data<uint16_t>()[0] = f32_to_bf16(0.375f);
  bf.data<uint16_t>()[1] = f32_to_bf16(-3.0f);
  h.data<uint16_t>()[0] = f32_to_f16(0.1f);
  h.data<uint16_t>()[1] = f32_to_f16(65504.0f);
  Tensor a = widen_to_f32(bf, true), b = widen_to_f32(h, true);
  EXPECT_EQ(a.shape(), (Shape{2}));
  EXPECT_EQ(a.data<float>()[0], 0.375f);
  EXPECT_EQ(a.data<float>()[1], -3.0f);
  // fp16(0.1) is 0.0999755859375 exactly.
  EXPECT_EQ(b.data<float>()[0], 0.0999755859375f);
  EXPECT_EQ(b.data<float>()[1], 65504.0f);
}

TEST(Decode, Int4UnpackMatchesTheFormulaByHand) {
  // Rows 0..3 of W (N=4, K=2): {1,-8}, {-1,7}, {0,3}, {-5,-2}.
  // packed[0,0] = (-1 << 4) | (1 & 0xF) = 0xF1; packed[0,1] = (7<<4)|(-8&0xF) = 0x78;
  // packed[1,0] = (-5<<4)|0 = 0xB0; packed[1,1] = (-2<<4)|3 = 0xE3.
  Tensor p = Tensor::empty({2, 2}, DType::I8);
  const uint8_t bytes[] = {0xF1, 0x78, 0xB0, 0xE3};
  std::memcpy(p.raw(), bytes, 4);
  Tensor w = unpack_int4_along_n(p);
  ASSERT_EQ(w.shape(), (Shape{4, 2}));
  const int8_t want[] = {1, -8, -1, 7, 0, 3, -5, -2};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(w.data<int8_t>()[i], want[i]) << i;
  Tensor back = pack_int4_along_n(w);
  EXPECT_EQ(std::memcmp(back.raw(), bytes, 4), 0);
}

TEST(Decode, Int4RoundTripAllValues) {
  Tensor w = Tensor::empty({16, 16}, DType::I8);
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c) w.data<int8_t>()[r * 16 + c] = static_cast<int8_t>((r + c) % 16 - 8);
  Tensor u = unpack_int4_along_n(pack_int4_along_n(w));
  EXPECT_EQ(std::memcmp(u.raw(), w.raw(), 256), 0);
}

TEST(Decode, Int4Range) {
  Tensor w = Tensor::empty({3}, DType::I8);
  w.data<int8_t>()[0] = -8;
  w.data<int8_t>()[1] = 7;
  w.data<int8_t>()[2] = 0;
  EXPECT_FALSE(first_outside_int4(w).has_value());
  w.data<int8_t>()[2] = 8;
  EXPECT_EQ(first_outside_int4(w), 2);
  w.data<int8_t>()[1] = -9;
  EXPECT_EQ(first_outside_int4(w), 1);
}

}  // namespace
}  // namespace qdit::quant
