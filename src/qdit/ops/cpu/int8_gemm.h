// The int8 GEMM of the quantized linears, with the per-channel / per-token epilogue fused:
//
//   acc[t,n] = sum_k a[t,k] * w[n,k]                           exact int32 (order-independent; see below)
//   y[t,n]   = (float)(acc[t,n] + col_add[n]) * col_scale[n] * row_scale[t] + bias[n]
//
// evaluated left to right, each step rounded to fp32: int32 sum, int32 -> fp32 conversion (round to nearest
// even), product with col_scale, product with row_scale (when given), sum with bias (when given). This is the
// contract the float64 references of the tests mirror. Static W8A8 uses col_add = quant_bias,
// col_scale = deq_scale and neither row_scale nor bias; the dynamic schemes use col_add = 0, col_scale = s_w,
// row_scale = s_t and the float bias.
//
// Exactness: all kernels accumulate in 32-bit two's complement, so a result whose true value fits in int32 is
// exact even when a partial sum wraps (the VNNI kernel's +128 offset makes partial sums larger than the true
// ones; its correction is applied modulo 2^32 too). ModelSlim's own bound is K * 127 * 128 < 2^31.
//
// Kernels (all produce the same integers; see int8_kernels.h for their layouts):
//   Scalar  portable C++, the reference and the fallback
//   Vnni    AVX-512 VNNI vpdpbusd, unsigned x signed: activations are stored +128 as u8, and the resulting
//           128 * sum_k w[n,k] is subtracted through col_add, precomputed when the weights are packed
//   Amx     AMX-INT8 tdpbssd, signed x signed on 16x64 tiles
//   OneDnn  oneDNN 2.x s8 x s8 -> f32 matmul with per-channel output scales (row scale and bias applied after)
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "qdit/core/tensor.h"

namespace qdit::ops::cpu {

enum class Int8Kernel : uint8_t { Scalar, Vnni, Amx, OneDnn };

const char* int8_kernel_name(Int8Kernel k);  // "scalar", "vnni", "amx", "onednn"
// Whether this CPU (and this build) can run the kernel.
bool int8_kernel_available(Int8Kernel k);
// The kernel layers are prepared for: set_int8_kernel's choice, else the environment variable
// QDIT_INT8_KERNEL (one of the names above; an unknown or unavailable name is a Usage error), else the fastest
// available one as measured by bench/gemm_bench.cpp (see bench/RESULTS.md): Amx, then Vnni, else Scalar.
// OneDnn is never the default and is available only on VNNI CPUs (see int8_kernel_available).
Int8Kernel active_int8_kernel();
// Forces a kernel for layers prepared from now on (tests, benchmarks); nullopt restores the default choice.
void set_int8_kernel(std::optional<Int8Kernel> k);

// How a kernel wants its quantized activations stored: row length (ld) a multiple of k_multiple, the number
// of rows a multiple of rows_multiple (padding rows and columns hold the code of 0), codes offset by +128 as u8
// or not, and row-major or `tiled`: blocks of 16 rows x 64 columns, each block contiguous (one AMX tile of 1 KiB),
// the blocks of a 16-row panel in column order, panel after panel.
struct Int8ActLayout {
  int64_t rows_multiple = 1;
  int64_t k_multiple = 1;
  bool u8_offset = false;
  bool tiled = false;
};
Int8ActLayout int8_act_layout(Int8Kernel k);

// Quantized activations of M tokens in some kernel's layout (the bytes are int8 codes, or codes + 128 as u8).
struct Int8Activations {
  const int8_t* data = nullptr;
  int64_t rows = 0;         // M
  int64_t rows_padded = 0;  // M rounded up to the layout's rows_multiple
  int64_t k = 0;            // K
  int64_t ld = 0;           // K rounded up to the layout's k_multiple (the row stride when not tiled)
  Int8ActLayout layout;
  // Byte offset of row t, column c.
  int64_t offset(int64_t t, int64_t c) const {
    return layout.tiled ? ((t / 16) * (ld / 64) + c / 64) * 1024 + (t % 16) * 64 + c % 64 : t * ld + c;
  }
};

// What a packed GEMM is built from. `weight` is I8 [N, K] row-major and is referenced, not copied, by kernels
// that can use it as is. col_add may be empty (all zero); bias may be empty (none).
struct Int8GemmSpec {
  Tensor weight;
  std::vector<int32_t> col_add;
  std::vector<float> col_scale;
  std::vector<float> bias;
};

// Weights packed once for one kernel, with the epilogue's per-column constants.
class Int8Gemm {
 public:
  virtual ~Int8Gemm() = default;
  virtual Int8Kernel kernel() const = 0;
  int64_t n() const { return n_; }
  int64_t k() const { return k_; }
  // y: F32 [a.rows, N] row-major. row_scale: [a.rows] or null. `a` must be in int8_act_layout(kernel()).
  virtual void run(const Int8Activations& a, const float* row_scale, float* y) const = 0;

 protected:
  int64_t n_ = 0, k_ = 0;
};

std::unique_ptr<Int8Gemm> make_int8_gemm(Int8Kernel kernel, const Int8GemmSpec& spec);

}  // namespace qdit::ops::cpu
