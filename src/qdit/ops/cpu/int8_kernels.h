// Internals shared by the int8 GEMM kernels (int8_gemm_*.cpp): the factories, the packed weight layout and the
// padded per-column epilogue constants.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "qdit/ops/cpu/int8_gemm.h"

namespace qdit::ops::cpu {

std::unique_ptr<Int8Gemm> make_scalar_int8_gemm(const Int8GemmSpec& spec);
std::unique_ptr<Int8Gemm> make_vnni_int8_gemm(const Int8GemmSpec& spec);
std::unique_ptr<Int8Gemm> make_amx_int8_gemm(const Int8GemmSpec& spec);
std::unique_ptr<Int8Gemm> make_onednn_int8_gemm(const Int8GemmSpec& spec);

// w [N, K] repacked into panels of 16 output columns. Within panel p, k-group g (k = 4g .. 4g+3) is one 64-byte
// block holding w[16p + j][4g + i] at byte 4j + i, zero past N and past K. Panel p starts at byte p * kp * 16.
// One block is one zmm operand of vpdpbusd; 16 consecutive blocks are one AMX B tile (16 rows of 64 bytes).
struct PanelPackedWeights {
  Tensor bytes;        // U8, 64-byte aligned
  int64_t panels = 0;  // N rounded up to 16 * panel_multiple, / 16
  int64_t kp = 0;      // K rounded up to k_multiple
  const int8_t* panel(int64_t p) const { return bytes.data<int8_t>() + p * kp * 16; }
};
PanelPackedWeights pack_panels(const Tensor& w, int64_t k_multiple, int64_t panel_multiple);

// The epilogue constants padded with zeros to `n_padded` columns so vector kernels load whole vectors.
struct ColumnConstants {
  std::vector<int32_t> add;
  std::vector<float> scale;
  std::vector<float> bias;  // empty when the layer has none
};
ColumnConstants pad_columns(const Int8GemmSpec& spec, int64_t n_padded);

// sum_k w[n, k] for every n (the VNNI kernel's +128 correction).
std::vector<int64_t> weight_row_sums(const Tensor& w);

inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

}  // namespace qdit::ops::cpu
