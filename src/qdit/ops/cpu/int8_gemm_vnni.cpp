// The AVX-512 VNNI int8 GEMM. vpdpbusd multiplies unsigned by signed bytes, so activations are stored as
// u8 = code + 128 (act_quant writes them so) and the extra 128 * sum_k w[n,k] is removed through the epilogue's
// column constant, computed once when the weights are packed. Modulo-2^32 arithmetic keeps this exact.
//
// Register blocking: 6 rows x 4 vectors of 16 columns = 24 int32 accumulators, 4 weight vectors and one
// broadcast activation quad (29 of 32 zmm). Per k-group of 4: 4 weight loads, 6 broadcasts, 24 vpdpbusd.
// Edges are computed in full and discarded: weight panels are padded to a multiple of 4 (zeros), and a tile
// with fewer than 6 rows repeats its last row.
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
  const int8_t* rows[kRows];  // activation rows (u8 codes); missing rows repeat the last real one
  int valid_rows;
  const int8_t* b;            // first of the 4 packed panels
  int64_t panel_bytes;        // distance between panels
  int64_t groups;             // k-groups of 4
  const int32_t* add;         // column constants at the first column
  const float* scale;
  const float* bias;          // null: no bias
  const float* row_scale;     // at the first row; null: none
  float* y;                   // output at (first row, first column)
  int64_t ldy;
  int64_t cols;               // valid columns in this tile, <= 64
};

// The 6 x 64 tile over all of K. The 24 accumulators are named variables: GCC 12 keeps an array of vpdpbusd
// accumulators in memory (a store per instruction), named ones stay in registers.
__attribute__((target(QDIT_VNNI_TARGET))) void vnni_tile(const Tile& t) {
  const __m512i z = _mm512_setzero_si512();
  __m512i c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z, c20 = z, c21 = z, c22 = z, c23 = z;
  __m512i c30 = z, c31 = z, c32 = z, c33 = z, c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
  const int8_t *a0 = t.rows[0], *a1 = t.rows[1], *a2 = t.rows[2], *a3 = t.rows[3], *a4 = t.rows[4], *a5 = t.rows[5];
  const int8_t* b = t.b;
  const int64_t pb = t.panel_bytes;
  for (int64_t g = 0; g < t.groups; ++g) {
    const __m512i w0 = _mm512_load_si512(b + g * 64), w1 = _mm512_load_si512(b + pb + g * 64);
    const __m512i w2 = _mm512_load_si512(b + 2 * pb + g * 64), w3 = _mm512_load_si512(b + 3 * pb + g * 64);
#define QDIT_VNNI_ROW(r)                                   \
  {                                                        \
    int32_t quad;                                          \
    std::memcpy(&quad, a##r + g * 4, 4);                   \
    const __m512i x = _mm512_set1_epi32(quad);             \
    c##r##0 = _mm512_dpbusd_epi32(c##r##0, x, w0);         \
    c##r##1 = _mm512_dpbusd_epi32(c##r##1, x, w1);         \
    c##r##2 = _mm512_dpbusd_epi32(c##r##2, x, w2);         \
    c##r##3 = _mm512_dpbusd_epi32(c##r##3, x, w3);         \
  }
    QDIT_VNNI_ROW(0)
    QDIT_VNNI_ROW(1)
    QDIT_VNNI_ROW(2)
    QDIT_VNNI_ROW(3)
    QDIT_VNNI_ROW(4)
    QDIT_VNNI_ROW(5)
#undef QDIT_VNNI_ROW
  }
  const __m512i acc[kRows][kVectors] = {{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23},
                                        {c30, c31, c32, c33}, {c40, c41, c42, c43}, {c50, c51, c52, c53}};
  for (int r = 0; r < t.valid_rows; ++r) {
    const float* rs = t.row_scale ? t.row_scale + r : nullptr;
    for (int v = 0; v < kVectors; ++v) {
      const int64_t left = t.cols - v * 16;
      if (left <= 0) break;
      const __mmask16 m = left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u);
      int8_epilogue_store(acc[r][v], t.add + v * 16, t.scale + v * 16, rs, t.bias ? t.bias + v * 16 : nullptr,
                          t.y + r * t.ldy + v * 16, m);
    }
  }
}

class VnniInt8Gemm final : public Int8Gemm {
 public:
  explicit VnniInt8Gemm(const Int8GemmSpec& spec) {
    n_ = spec.weight.dim(0);
    k_ = spec.weight.dim(1);
    packed_ = pack_panels(spec.weight, int8_act_layout(Int8Kernel::Vnni).k_multiple, kVectors);
    c_ = pad_columns(spec, packed_.panels * 16);
    // The +128 activation offset adds 128 * sum_k w[n,k]; subtract it modulo 2^32 (wrapping on purpose).
    const std::vector<int64_t> sums = weight_row_sums(spec.weight);
    for (int64_t c = 0; c < n_; ++c)
      c_.add[c] = static_cast<int32_t>(static_cast<uint32_t>(c_.add[c]) - 128u * static_cast<uint32_t>(sums[c]));
  }
  Int8Kernel kernel() const override { return Int8Kernel::Vnni; }

  void run(const Int8Activations& a, const float* row_scale, float* y) const override {
    const int64_t m = a.rows;
    const int64_t col_blocks = packed_.panels / kVectors;
    const int64_t row_blocks = (m + kRowBlock - 1) / kRowBlock;
    const float* bias = c_.bias.empty() ? nullptr : c_.bias.data();
    parallel_for(col_blocks * row_blocks, 1, [&](int64_t tb, int64_t te) {
      for (int64_t task = tb; task < te; ++task) {
        const int64_t cb = task / row_blocks, rb = task % row_blocks;
        const int64_t c0 = cb * kVectors * 16;
        Tile t{};
        t.b = packed_.panel(cb * kVectors);
        t.panel_bytes = packed_.kp * 16;
        t.groups = packed_.kp / 4;
        t.add = c_.add.data() + c0;
        t.scale = c_.scale.data() + c0;
        t.bias = bias ? bias + c0 : nullptr;
        t.ldy = n_;
        t.cols = std::min<int64_t>(kVectors * 16, n_ - c0);
        const int64_t r_end = std::min(m, (rb + 1) * kRowBlock);
        for (int64_t r = rb * kRowBlock; r < r_end; r += kRows) {
          t.valid_rows = static_cast<int>(std::min<int64_t>(kRows, r_end - r));
          for (int i = 0; i < kRows; ++i) t.rows[i] = a.data + (r + std::min(i, t.valid_rows - 1)) * a.ld;
          t.row_scale = row_scale ? row_scale + r : nullptr;
          t.y = y + r * n_ + c0;
          vnni_tile(t);
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
