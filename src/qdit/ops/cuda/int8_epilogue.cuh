// The dequantizing epilogue shared by every int8 GEMM kernel (int8_gemm.cu, int8_gemm_sm90.cu): int32
// accumulators in registers -> the stored output, one column pair at a time. The rounding steps are the CPU
// reference's (modelslim-format.md §3): separate fp32 multiplies and adds, no fused multiply-add, so the GPU
// output equals the CPU's bit for bit whenever the int32 accumulations do.
#pragma once
#include <cuda_bf16.h>

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

// Whether paired stores are aligned for this output: N even and the base aligned to a pair.
inline bool int8_pair_stores_ok(const Int8Gemm& g, Int8Epilogue e) {
  size_t pair_bytes = (e != Int8Epilogue::StoreS32 && g.out_bf16) ? 4 : 8;
  return g.n % 2 == 0 && reinterpret_cast<uintptr_t>(g.out) % pair_bytes == 0;
}

}  // namespace qdit::ops::cuda
