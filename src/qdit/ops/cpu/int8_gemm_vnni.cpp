// The AVX-512 VNNI int8 GEMM. vpdpbusd multiplies unsigned by signed bytes, so activations are stored as
// u8 = code + 128 (act_quant writes them so) and the extra 128 * sum_k w[n,k] is removed through the epilogue's
// column constant, computed once when the weights are packed. Modulo-2^32 arithmetic keeps this exact.
//
// Register blocking: 6 rows x 4 vectors of 16 columns = 24 int32 accumulators, 4 weight vectors and one
// broadcast activation quad (29 of 32 zmm). Per k-group of 4: 4 weight loads, 6 broadcasts, 24 vpdpbusd.
// Work is split into (64-column block, 192-row block) tasks, column-block-major so that each thread keeps its
// share of the packed weights in its L2 while the activations stream.
#include "qdit/ops/cpu/int8_epilogue.h"  // first: it silences GCC 12 intrinsics warnings

#include <algorithm>
#include <cstring>

#include "qdit/core/parallel.h"
#include "qdit/ops/cpu/int8_kernels.h"

namespace qdit::ops::cpu {

namespace {

#define QDIT_VNNI_TARGET "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"

constexpr int kRows = 6;
constexpr int kVectors = 4;
constexpr int64_t kRowBlock = 32 * kRows;

struct Tile {
  const int8_t* a;          // first activation row (u8 codes)
  int64_t lda;
  const int8_t* b;          // first packed panel
  int64_t panel_bytes;      // distance between panels
  int64_t groups;           // k-groups of 4
  const int32_t* add;       // column constants at the first column
  const float* scale;
  const float* bias;        // null: no bias
  const float* row_scale;   // at the first row; null: none
  float* y;                 // output at (first row, first column)
  int64_t ldy;
  int64_t cols;             // valid columns in this tile, <= 16 * NV
};

template <int MR, int NV>
__attribute__((target(QDIT_VNNI_TARGET))) void vnni_tile(const Tile& t) {
  __m512i acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_si512();
  const int8_t* a = t.a;
  const int8_t* b = t.b;
  for (int64_t g = 0; g < t.groups; ++g) {
    __m512i w[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) w[v] = _mm512_load_si512(b + v * t.panel_bytes + g * 64);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      int32_t quad;
      std::memcpy(&quad, a + r * t.lda + g * 4, 4);
      const __m512i x = _mm512_set1_epi32(quad);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], x, w[v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    const float* rs = t.row_scale ? t.row_scale + r : nullptr;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const int64_t left = t.cols - v * 16;
      const __mmask16 m = left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u);
      int8_epilogue_store(acc[r][v], t.add + v * 16, t.scale + v * 16, rs, t.bias ? t.bias + v * 16 : nullptr,
                          t.y + r * t.ldy + v * 16, m);
    }
  }
}

using TileFn = void (*)(const Tile&);

template <int MR>
constexpr TileFn tile_fn(int nv) {
  return nv == 1 ? vnni_tile<MR, 1> : nv == 2 ? vnni_tile<MR, 2> : nv == 3 ? vnni_tile<MR, 3> : vnni_tile<MR, 4>;
}

TileFn tile_for(int mr, int nv) {
  switch (mr) {
    case 1: return tile_fn<1>(nv);
    case 2: return tile_fn<2>(nv);
    case 3: return tile_fn<3>(nv);
    case 4: return tile_fn<4>(nv);
    case 5: return tile_fn<5>(nv);
    default: return tile_fn<6>(nv);
  }
}

class VnniInt8Gemm final : public Int8Gemm {
 public:
  explicit VnniInt8Gemm(const Int8GemmSpec& spec) {
    n_ = spec.weight.dim(0);
    k_ = spec.weight.dim(1);
    packed_ = pack_panels(spec.weight, int8_act_layout(Int8Kernel::Vnni).k_multiple, 1);
    c_ = pad_columns(spec, packed_.panels * 16);
    // The +128 activation offset adds 128 * sum_k w[n,k]; subtract it modulo 2^32 (wrapping on purpose).
    const std::vector<int64_t> sums = weight_row_sums(spec.weight);
    for (int64_t c = 0; c < n_; ++c)
      c_.add[c] = static_cast<int32_t>(static_cast<uint32_t>(c_.add[c]) - 128u * static_cast<uint32_t>(sums[c]));
  }
  Int8Kernel kernel() const override { return Int8Kernel::Vnni; }

  void run(const Int8Activations& a, const float* row_scale, float* y) const override {
    const int64_t m = a.rows;
    const int64_t used_panels = (n_ + 15) / 16;
    const int64_t col_blocks = (used_panels + kVectors - 1) / kVectors;
    const int64_t row_blocks = (m + kRowBlock - 1) / kRowBlock;
    const float* bias = c_.bias.empty() ? nullptr : c_.bias.data();
    parallel_for(col_blocks * row_blocks, 1, [&](int64_t tb, int64_t te) {
      for (int64_t task = tb; task < te; ++task) {
        const int64_t cb = task / row_blocks, rb = task % row_blocks;
        const int64_t p0 = cb * kVectors;
        const int nv = static_cast<int>(std::min<int64_t>(kVectors, used_panels - p0));
        const int64_t c0 = p0 * 16;
        Tile t{};
        t.lda = a.ld;
        t.b = packed_.panel(p0);
        t.panel_bytes = packed_.kp * 16;
        t.groups = packed_.kp / 4;
        t.add = c_.add.data() + c0;
        t.scale = c_.scale.data() + c0;
        t.bias = bias ? bias + c0 : nullptr;
        t.ldy = n_;
        t.cols = std::min<int64_t>(nv * 16, n_ - c0);
        const int64_t r_end = std::min(m, (rb + 1) * kRowBlock);
        for (int64_t r = rb * kRowBlock; r < r_end; r += kRows) {
          const int mr = static_cast<int>(std::min<int64_t>(kRows, r_end - r));
          t.a = a.data + r * a.ld;
          t.row_scale = row_scale ? row_scale + r : nullptr;
          t.y = y + r * n_ + c0;
          tile_for(mr, nv)(t);
        }
      }
    });
  }

 private:
  PanelPackedWeights packed_;
  ColumnConstants c_;
};

}  // namespace

std::unique_ptr<Int8Gemm> make_vnni_int8_gemm(const Int8GemmSpec& spec) { return std::make_unique<VnniInt8Gemm>(spec); }

}  // namespace qdit::ops::cpu
