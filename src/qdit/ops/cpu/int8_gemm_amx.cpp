// The AMX-INT8 GEMM (Sapphire Rapids and later). tdpbssd multiplies signed by signed bytes, so activations stay
// plain int8 codes. Eight tiles: four 16x16 int32 accumulators forming a 32x32 output block, two 16x64-byte
// activation tiles (each one contiguous KiB of the tiled activation layout, which act_quant writes directly:
// row-major rows 16 x K apart made the loads stall) and two 16x64-byte weight tiles
// (16 consecutive k-groups of one panel of the shared packed layout, stride 64). Each 64-wide k step is four
// tile loads and four tdpbssd. The block is stored to a 4 KiB stack buffer and the AVX-512 epilogue writes y
// (overlapped with the tile work of the next block).
// Activation rows are padded to 32 and K to 64 (int8_act_layout), weight panels to an even count, so every
// tile is full; the epilogue simply skips padded rows and masks padded columns.
#include "qdit/ops/cpu/int8_epilogue.h"  // first: it silences GCC 12 intrinsics warnings

#include <algorithm>
#include <cstring>

#include "qdit/core/error.h"
#include "qdit/core/parallel.h"
#include "qdit/ops/cpu/int8_kernels.h"

namespace qdit::ops::cpu {

namespace {

#define QDIT_AMX_TARGET "avx512f,avx512bw,avx512vl,avx512dq,amx-tile,amx-int8"

constexpr int64_t kBlock = 32;          // output rows and columns per tile block

// Work split, measured on this machine's CPU (bench/RESULTS.md): tasks of up to 256 rows x 384 columns; inside a
// task, each 32-row block of activations is used against all of the task's column pairs before the next (it stays
// in L1/L2) while the task's packed weights (384 x K) stay in L2.
constexpr int64_t kRowTask = 256;
constexpr int64_t kColTasks[] = {384, 192, 96, 64, 32};  // narrower when there are too few tasks for the threads

struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

TileConfig all_tiles_16x64() {
  TileConfig cfg;
  std::memset(&cfg, 0, sizeof cfg);
  cfg.palette_id = 1;
  for (int i = 0; i < 8; ++i) {
    cfg.rows[i] = 16;
    cfg.colsb[i] = 64;
  }
  return cfg;
}

// Tile configuration is per-thread state; every tile is 16 rows x 64 bytes. The configuration lives in a static
// object because GCC 12 treats the stores into a local one as dead (it does not model ldtilecfg's read).
__attribute__((target(QDIT_AMX_TARGET))) void configure_tiles() {
  static const TileConfig config = all_tiles_16x64();
  _tile_loadconfig(&config);
}

__attribute__((target(QDIT_AMX_TARGET))) void release_tiles() { _tile_release(); }

// Where the activation tiles of a 32-row block are: the tile of rows 16h..16h+15 at k-step s starts at
// rows[h] + s * step, its rows `stride` bytes apart.
struct ActTiles {
  const int8_t* rows[2];
  int64_t stride;
  int64_t step;
};

ActTiles act_tiles(const Int8Activations& a, int64_t r0) {
  if (a.layout.tiled) {
    const int8_t* p = a.data + a.offset(r0, 0);
    return {{p, a.data + a.offset(r0 + 16, 0)}, 64, 1024};
  }
  return {{a.data + r0 * a.ld, a.data + (r0 + 16) * a.ld}, a.ld, 64};
}

// Tiles 0..3 = a[32 rows, kp] . (panels b0 | b1)^T, the 32 x 32 block as four 16 x 16 int32 tiles.
__attribute__((target(QDIT_AMX_TARGET))) void amx_block(const ActTiles& a, const int8_t* b0, const int8_t* b1,
                                                         int64_t k_steps) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t s = 0; s < k_steps; ++s) {
    // Loads interleaved with the products that need them (measured faster than four loads, then four products).
    _tile_loadd(4, a.rows[0] + s * a.step, a.stride);
    _tile_loadd(6, b0 + s * 1024, 64);
    _tile_dpbssd(0, 4, 6);
    _tile_loadd(7, b1 + s * 1024, 64);
    _tile_dpbssd(1, 4, 7);
    _tile_loadd(5, a.rows[1] + s * a.step, a.stride);
    _tile_dpbssd(2, 5, 6);
    _tile_dpbssd(3, 5, 7);
  }
}

// acc (32 x 32 int32, row stride 32) = tiles 0..3.
__attribute__((target(QDIT_AMX_TARGET))) void store_block(int32_t* acc) {
  _tile_stored(0, acc, 128);
  _tile_stored(1, acc + 16, 128);
  _tile_stored(2, acc + 16 * 32, 128);
  _tile_stored(3, acc + 16 * 32 + 16, 128);
}

// A stored block waiting for its epilogue.
struct Block {
  const int32_t* acc = nullptr;
  int64_t rows = 0, cols = 0, r0 = 0, c0 = 0;
};

struct EpilogueArgs {
  const int32_t* add;
  const float* scale;
  const float* bias;       // null: none
  const float* row_scale;  // null: none
  float* y;
  int64_t ldy;
};

// The epilogue of one block, column constants held in registers across its rows.
__attribute__((target(QDIT_INT8_EPILOGUE_TARGET))) void block_epilogue(const Block& b, const EpilogueArgs& e) {
  for (int64_t v = 0; v < 2; ++v) {
    const int64_t left = b.cols - v * 16;
    if (left <= 0) break;
    const __mmask16 m = left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u);
    const int64_t c = b.c0 + v * 16;
    const __m512i add = _mm512_loadu_si512(e.add + c);
    const __m512 scale = _mm512_loadu_ps(e.scale + c);
    const __m512 bias = e.bias ? _mm512_loadu_ps(e.bias + c) : _mm512_setzero_ps();
    for (int64_t r = 0; r < b.rows; ++r) {
      const __m512i sum = _mm512_add_epi32(_mm512_load_si512(b.acc + r * 32 + v * 16), add);
      __m512 out = _mm512_mul_ps(_mm512_cvt_roundepi32_ps(sum, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), scale);
      if (e.row_scale) out = _mm512_mul_ps(out, _mm512_set1_ps(e.row_scale[b.r0 + r]));
      if (e.bias) out = _mm512_add_ps(out, bias);
      _mm512_mask_storeu_ps(e.y + (b.r0 + r) * e.ldy + c, m, out);
    }
  }
}

class AmxInt8Gemm final : public Int8Gemm {
 public:
  explicit AmxInt8Gemm(const Int8GemmSpec& spec) {
    n_ = spec.weight.dim(0);
    k_ = spec.weight.dim(1);
    packed_ = pack_panels(spec.weight, int8_act_layout(Int8Kernel::Amx).k_multiple, 2);
    c_ = pad_columns(spec, packed_.panels * 16);
  }
  Int8Kernel kernel() const override { return Int8Kernel::Amx; }

  void run(const Int8Activations& a, const float* row_scale, float* y) const override {
    QDIT_CHECK(a.layout.tiled && a.ld == packed_.kp, "AMX int8 GEMM needs tiled activations of the packed K");
    const int64_t m = a.rows;
    const int64_t row_tasks = (m + kRowTask - 1) / kRowTask;
    int64_t col_task = kColTasks[0];
    for (int64_t c : kColTasks) {
      col_task = c;
      if (((n_ + c - 1) / c) * row_tasks >= num_threads()) break;
    }
    const int64_t col_tasks = (n_ + col_task - 1) / col_task;
    const int64_t k_steps = packed_.kp / 64;
    const float* bias = c_.bias.empty() ? nullptr : c_.bias.data();
    const EpilogueArgs epilogue{c_.add.data(), c_.scale.data(), bias, row_scale, y, n_};
    parallel_for(col_tasks * row_tasks, 1, [&](int64_t tb, int64_t te) {
      // Two block buffers: the epilogue of the previous block runs on the vector units while the tile unit
      // computes the current one (program order: tile instructions, epilogue, then the store of the new block).
      alignas(64) int32_t acc[2][kBlock * kBlock];
      Block pending;
      int buffer = 0;
      configure_tiles();
      auto block = [&](int64_t r0, int64_t c0, int64_t r_end, int64_t c_end) {
        amx_block(act_tiles(a, r0), packed_.panel(c0 / 16), packed_.panel(c0 / 16 + 1), k_steps);
        if (pending.acc) block_epilogue(pending, epilogue);
        store_block(acc[buffer]);
        pending = Block{acc[buffer], std::min(kBlock, r_end - r0), std::min(kBlock, c_end - c0), r0, c0};
        buffer ^= 1;
      };
      // Column-task-major: consecutive tasks of a thread share their weight columns.
      for (int64_t task = tb; task < te; ++task) {
        const int64_t ct = task / row_tasks, rt = task % row_tasks;
        const int64_t c_begin = ct * col_task, c_end = std::min(n_, (ct + 1) * col_task);
        const int64_t r_begin = rt * kRowTask, r_end = std::min(m, (rt + 1) * kRowTask);
        for (int64_t r0 = r_begin; r0 < r_end; r0 += kBlock)
          for (int64_t c0 = c_begin; c0 < c_end; c0 += kBlock) block(r0, c0, r_end, c_end);
      }
      if (pending.acc) block_epilogue(pending, epilogue);
      release_tiles();
    });
  }


 private:
  PanelPackedWeights packed_;
  ColumnConstants c_;
};

}  // namespace

std::unique_ptr<Int8Gemm> make_amx_int8_gemm(const Int8GemmSpec& spec) { return std::make_unique<AmxInt8Gemm>(spec); }

}  // namespace qdit::ops::cpu
