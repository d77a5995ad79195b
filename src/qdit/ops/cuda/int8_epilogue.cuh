// The dequantizing epilogue shared by every int8 GEMM kernel (int8_gemm.cu, int8_gemm_sm90.cu): int32
// accumulators in registers -> the stored output, one column pair at a time. The rounding steps are the CPU
// reference's (modelslim-format.md §3): separate fp32 multiplies and adds, no fused multiply-add, so the GPU
// output equals the CPU's bit for bit whenever the int32 accumulations do.
#pragma once
#include <cuda_bf16.h>

#include <type_traits>

#include "qdit/ops/cuda/internal.h"
#include "qdit/ops/cuda/mma.cuh"

namespace qdit::ops::cuda {

// Per-column constants of an output column pair (col, col + 1), loaded once per tile column and reused for
// every row the thread stores.
struct ColPair {
  float s0 = 0.f, s1 = 0.f, b0 = 0.f, b1 = 0.f;
  int o0 = 0, o1 = 0;
};

template <Int8Epilogue E>
__device__ __forceinline__ ColPair load_col_pair(const Int8Gemm& g, int64_t col, bool has_second) {
  ColPair c;
  if constexpr (E == Int8Epilogue::Dynamic) {
    c.s0 = g.col_scale[col];
    if (has_second) c.s1 = g.col_scale[col + 1];
    if (g.bias) {
      c.b0 = g.bias[col];
      if (has_second) c.b1 = g.bias[col + 1];
    }
  } else if constexpr (E == Int8Epilogue::Static) {
    c.s0 = g.col_scale[col];
    c.o0 = g.col_offset[col];
    if (has_second) {
      c.s1 = g.col_scale[col + 1];
      c.o1 = g.col_offset[col + 1];
    }
  }
  return c;
}

//   Dynamic: acc * col_scale * row_scale (+ bias);   Static: (acc + quant_bias) * deq_scale.
template <Int8Epilogue E>
__device__ __forceinline__ float dequant(int acc, float s, float b, int o, float row_scale, bool has_bias) {
  if constexpr (E == Int8Epilogue::Dynamic) {
    float v = __fmul_rn(__fmul_rn(static_cast<float>(acc), s), row_scale);
    return has_bias ? __fadd_rn(v, b) : v;
  } else {
    return __fmul_rn(static_cast<float>(acc + o), s);
  }
}

// Stores output (row, col) and, when has_second, (row, col + 1). `vec`: both in range and the pair's address
// aligned for one paired store (col even, N even, output base aligned), decided once per kernel by the caller.
template <Int8Epilogue E>
__device__ __forceinline__ void store_col_pair(const Int8Gemm& g, int64_t row, int64_t col, int a0, int a1,
                                               const ColPair& c, float row_scale, bool has_second, bool vec) {
  const int64_t i = row * g.n + col;
  if constexpr (E == Int8Epilogue::StoreS32) {
    int32_t* o = static_cast<int32_t*>(g.out) + i;
    if (vec) {
      *reinterpret_cast<int2*>(o) = make_int2(a0, a1);
    } else {
      o[0] = a0;
      if (has_second) o[1] = a1;
    }
  } else {
    const bool has_bias = g.bias != nullptr;
    float v0 = dequant<E>(a0, c.s0, c.b0, c.o0, row_scale, has_bias);
    float v1 = dequant<E>(a1, c.s1, c.b1, c.o1, row_scale, has_bias);
    if (g.out_bf16) {
      __nv_bfloat16* o = static_cast<__nv_bfloat16*>(g.out) + i;
      if (vec) {
        *reinterpret_cast<uint32_t*>(o) = pack_bf16(v0, v1);
      } else {
        o[0] = __float2bfloat16_rn(v0);
        if (has_second) o[1] = __float2bfloat16_rn(v1);
      }
    } else {
      float* o = static_cast<float*>(g.out) + i;
      if (vec) {
        *reinterpret_cast<float2*>(o) = make_float2(v0, v1);
      } else {
        o[0] = v0;
        if (has_second) o[1] = v1;
      }
    }
  }
}

// The epilogue of a tile wholly inside the output (every row < M, every column < N), for one thread's part of
// it: rows row0 + 64 mr + 8 h, columns col0 + 8 j (+ 1), the wgmma D fragment's layout (acc[mr][4j + 2h], +1).
// Why a separate form: the general one (store_col_pair per element pair) carries run-time bounds, alignment,
// output-type and bias branches through every pair; profiled on an H200 (bench/RESULTS.md, session 11) its
// epilogue issued ~4 instructions of bookkeeping per useful one and stalled on instruction fetch. Here the
// output type and the bias are compile-time and each output row is one pointer with immediate column offsets.
// Same fp32 steps (dequant), so the same bits. Needs what `int8_lean_epilogue_ok` checks. (Loading the row and
// column constants before the tile's MMAs, to hide their latency, measured no faster: session 11.)
template <Int8Epilogue E, bool BF16_OUT, bool HAS_BIAS, int MR, int BN>
__device__ __forceinline__ void store_tile_interior_as(const Int8Gemm& g, const int (&acc)[MR][BN / 2], int64_t row0,
                                                       int64_t col0) {
  static_assert(E != Int8Epilogue::StoreS32, "the int32 test epilogue keeps the general form");
  using Out = std::conditional_t<BF16_OUT, __nv_bfloat16, float>;
  Out* rows[MR][2];
  float rs[MR][2];
#pragma unroll
  for (int mr = 0; mr < MR; ++mr)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t row = row0 + mr * 64 + h * 8;
      rows[mr][h] = static_cast<Out*>(g.out) + row * g.n + col0;
      rs[mr][h] = E == Int8Epilogue::Dynamic ? __ldg(g.row_scale + row) : 0.0f;
    }
#pragma unroll
  for (int j = 0; j < BN / 8; ++j) {
    const float2 s = __ldg(reinterpret_cast<const float2*>(g.col_scale + col0 + 8 * j));
    float2 b = make_float2(0.f, 0.f);
    int2 o = make_int2(0, 0);
    if constexpr (E == Int8Epilogue::Dynamic && HAS_BIAS) b = __ldg(reinterpret_cast<const float2*>(g.bias + col0 + 8 * j));
    if constexpr (E == Int8Epilogue::Static) o = __ldg(reinterpret_cast<const int2*>(g.col_offset + col0 + 8 * j));
#pragma unroll
    for (int mr = 0; mr < MR; ++mr)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const float v0 = dequant<E>(acc[mr][4 * j + 2 * h], s.x, b.x, o.x, rs[mr][h], HAS_BIAS);
        const float v1 = dequant<E>(acc[mr][4 * j + 2 * h + 1], s.y, b.y, o.y, rs[mr][h], HAS_BIAS);
        if constexpr (BF16_OUT)
          *reinterpret_cast<uint32_t*>(rows[mr][h] + 8 * j) = pack_bf16(v0, v1);
        else
          *reinterpret_cast<float2*>(rows[mr][h] + 8 * j) = make_float2(v0, v1);
      }
  }
}

// store_tile_interior_as chosen by the run-time output type and bias (uniform across the kernel). Only the
// dynamic epilogue has a bias, so the static one is instantiated without.
template <Int8Epilogue E, int MR, int BN>
__device__ __forceinline__ void store_tile_interior(const Int8Gemm& g, const int (&acc)[MR][BN / 2], int64_t row0,
                                                    int64_t col0) {
  if constexpr (E == Int8Epilogue::Dynamic) {
    if (g.bias != nullptr) {
      if (g.out_bf16)
        store_tile_interior_as<E, true, true, MR, BN>(g, acc, row0, col0);
      else
        store_tile_interior_as<E, false, true, MR, BN>(g, acc, row0, col0);
      return;
    }
  }
  if (g.out_bf16)
    store_tile_interior_as<E, true, false, MR, BN>(g, acc, row0, col0);
  else
    store_tile_interior_as<E, false, false, MR, BN>(g, acc, row0, col0);
}

// Whether paired stores are aligned for this output: N even and the base aligned to a pair.
inline bool int8_pair_stores_ok(const Int8Gemm& g, Int8Epilogue e) {
  size_t pair_bytes = (e != Int8Epilogue::StoreS32 && g.out_bf16) ? 4 : 8;
  return g.n % 2 == 0 && reinterpret_cast<uintptr_t>(g.out) % pair_bytes == 0;
}

// Whether store_tile_interior may serve this GEMM's interior tiles: paired stores aligned
// (int8_pair_stores_ok), and the column constants 8-byte aligned for paired loads.
inline bool int8_lean_epilogue_ok(const Int8Gemm& g, Int8Epilogue e) {
  auto aligned8 = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 8 == 0; };
  if (e == Int8Epilogue::StoreS32 || !int8_pair_stores_ok(g, e) || !aligned8(g.col_scale)) return false;
  return e == Int8Epilogue::Dynamic ? aligned8(g.bias) : aligned8(g.col_offset);  // (null is aligned)
}

}  // namespace qdit::ops::cuda
