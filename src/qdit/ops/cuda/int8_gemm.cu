// Int8 x int8 -> int32 GEMM on the tensor cores (mma.sync m16n8k32), "TN": both operands K-contiguous, which is
// how activations [T,K] and weights [N,K] are stored. The dequantization (per-token and per-channel scales, bias,
// or static quant_bias and deq_scale) runs on the int32 accumulators in registers and the kernel writes the
// final fp32 output: no int32 matrix ever reaches device memory (except in the StoreS32 test epilogue).
//
// Tiling: a 256-thread block computes 128x128 outputs; 8 warps in 2 (M) x 4 (N), each 64x32; K advances by 128
// bytes per stage through a 3-stage cp.async pipeline (96 KiB of shared memory, XOR-swizzled for ldmatrix).
#include <mutex>

#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/validate.h"
#include "qdit/ops/cuda/internal.h"
#include "qdit/ops/cuda/mma.cuh"
#include "qdit/ops/cuda/runtime.h"

namespace qdit::ops::cuda {

namespace {

constexpr int kBM = 128, kBN = 128, kBK = 128, kStages = 3, kThreads = 256;
constexpr int kChunks = kBK / 16;  // 16-byte chunks per tile row
constexpr int kTileBytes = (kBM + kBN) * kBK;
constexpr int kSmemBytes = kStages * kTileBytes;
// Variant 0: no register cap (about 155 registers, one block of 8 warps per SM); variant 1: capped for two
// blocks per SM. The benchmark times both in the same run; variant 1 was faster at every Wan shape on an H200
// (607 vs 532 TOP/s at 32760x5120x5120, bench/RESULTS.md session 2), hence the default.
constexpr int kDefaultInt8Variant = 1;

template <Int8Epilogue E>
__device__ __forceinline__ void store_out(const Int8Gemm& g, int64_t row, int64_t col, int acc) {
  int64_t i = row * g.n + col;
  if constexpr (E == Int8Epilogue::StoreS32) {
    static_cast<int32_t*>(g.out)[i] = acc;
  } else if constexpr (E == Int8Epilogue::Dynamic) {
    float v = __fmul_rn(__fmul_rn(static_cast<float>(acc), g.col_scale[col]), g.row_scale[row]);
    if (g.bias) v = __fadd_rn(v, g.bias[col]);
    static_cast<float*>(g.out)[i] = v;
  } else {
    static_cast<float*>(g.out)[i] = __fmul_rn(static_cast<float>(acc + g.col_offset[col]), g.col_scale[col]);
  }
}

// Two adjacent outputs (col even, n even: 8-byte aligned) in one store.
template <Int8Epilogue E>
__device__ __forceinline__ void store_pair(const Int8Gemm& g, int64_t row, int64_t col, int a0, int a1) {
  int64_t i = row * g.n + col;
  if constexpr (E == Int8Epilogue::StoreS32) {
    *reinterpret_cast<int2*>(static_cast<int32_t*>(g.out) + i) = make_int2(a0, a1);
  } else if constexpr (E == Int8Epilogue::Dynamic) {
    float rs = g.row_scale[row];
    float v0 = __fmul_rn(__fmul_rn(static_cast<float>(a0), g.col_scale[col]), rs);
    float v1 = __fmul_rn(__fmul_rn(static_cast<float>(a1), g.col_scale[col + 1]), rs);
    if (g.bias) {
      v0 = __fadd_rn(v0, g.bias[col]);
      v1 = __fadd_rn(v1, g.bias[col + 1]);
    }
    *reinterpret_cast<float2*>(static_cast<float*>(g.out) + i) = make_float2(v0, v1);
  } else {
    float v0 = __fmul_rn(static_cast<float>(a0 + g.col_offset[col]), g.col_scale[col]);
    float v1 = __fmul_rn(static_cast<float>(a1 + g.col_offset[col + 1]), g.col_scale[col + 1]);
    *reinterpret_cast<float2*>(static_cast<float*>(g.out) + i) = make_float2(v0, v1);
  }
}

template <Int8Epilogue E, int MinBlocks>
__global__ void __launch_bounds__(kThreads, MinBlocks) int8_gemm_mma_kernel(const Int8Gemm g) {
  extern __shared__ __align__(128) unsigned char smem[];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int warp_m = warp >> 2, warp_n = warp & 3;
  const int64_t m0 = int64_t(blockIdx.y) * kBM, n0 = int64_t(blockIdx.x) * kBN;
  const int ktiles = static_cast<int>((g.k + kBK - 1) / kBK);
  const uint32_t smem0 = smem_addr(smem);

  auto load_stage = [&](int stage, int kt) {
    uint32_t a_base = smem0 + stage * kTileBytes, b_base = a_base + kBM * kBK;
    int64_t kbyte0 = int64_t(kt) * kBK;
#pragma unroll
    for (int i = 0; i < (kBM * kChunks) / kThreads; ++i) {
      int id = tid + i * kThreads, r = id / kChunks, c = id % kChunks;
      int64_t row = m0 + r, kb = kbyte0 + c * 16;
      bool ok = row < g.m && kb < g.k;
      cp_async16(a_base + swizzle(r, c, kChunks), ok ? g.a + row * g.k + kb : g.a, ok);
    }
#pragma unroll
    for (int i = 0; i < (kBN * kChunks) / kThreads; ++i) {
      int id = tid + i * kThreads, r = id / kChunks, c = id % kChunks;
      int64_t row = n0 + r, kb = kbyte0 + c * 16;
      bool ok = row < g.n && kb < g.k;
      cp_async16(b_base + swizzle(r, c, kChunks), ok ? g.b + row * g.k + kb : g.b, ok);
    }
  };

  int acc[4][4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0;

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < ktiles) load_stage(s, s);
    cp_async_commit();
  }

  for (int kt = 0; kt < ktiles; ++kt) {
    cp_async_wait<kStages - 2>();
    __syncthreads();  // tile kt is visible to all, and everyone is done with the stage about to be refilled
    int next = kt + kStages - 1;
    if (next < ktiles) load_stage(next % kStages, next);
    cp_async_commit();

    uint32_t a_base = smem0 + (kt % kStages) * kTileBytes, b_base = a_base + kBM * kBK;
#pragma unroll
    for (int ks = 0; ks < kBK / 32; ++ks) {
      uint32_t af[4][4], bf[4][2];
#pragma unroll
      for (int mi = 0; mi < 4; ++mi) {
        int r = warp_m * 64 + mi * 16 + (lane & 15);
        ldmatrix_x4(af[mi], a_base + swizzle(r, ks * 2 + (lane >> 4), kChunks));
      }
#pragma unroll
      for (int nj = 0; nj < 2; ++nj) {
        int r = warp_n * 32 + nj * 16 + (lane & 7) + ((lane >> 4) << 3);
        uint32_t t[4];
        ldmatrix_x4(t, b_base + swizzle(r, ks * 2 + ((lane >> 3) & 1), kChunks));
        bf[nj * 2][0] = t[0];
        bf[nj * 2][1] = t[1];
        bf[nj * 2 + 1][0] = t[2];
        bf[nj * 2 + 1][1] = t[3];
      }
#pragma unroll
      for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) mma_s8(acc[mi][ni], af[mi], bf[ni][0], bf[ni][1]);
    }
  }
  cp_async_wait<0>();

  const int grp = lane >> 2, tig = lane & 3;
#pragma unroll
  for (int mi = 0; mi < 4; ++mi)
#pragma unroll
    for (int ni = 0; ni < 4; ++ni)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        int64_t row = m0 + warp_m * 64 + mi * 16 + grp + h * 8;
        int64_t col = n0 + warp_n * 32 + ni * 8 + tig * 2;
        if (row >= g.m) continue;
        if (col + 1 < g.n && (g.n & 1) == 0) {
          store_pair<E>(g, row, col, acc[mi][ni][h * 2], acc[mi][ni][h * 2 + 1]);
        } else {
          if (col < g.n) store_out<E>(g, row, col, acc[mi][ni][h * 2]);
          if (col + 1 < g.n) store_out<E>(g, row, col + 1, acc[mi][ni][h * 2 + 1]);
        }
      }
}

// For operands the tiled kernel cannot take (K not a multiple of 16, misaligned pointers): one thread per
// output, the same exact integer arithmetic and the same epilogue.
template <Int8Epilogue E>
__global__ void int8_gemm_simple_kernel(const Int8Gemm g) {
  int64_t total = g.m * g.n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t row = i / g.n, col = i - row * g.n;
    const int8_t* a = g.a + row * g.k;
    const int8_t* b = g.b + col * g.k;
    int acc = 0;
    for (int64_t k = 0; k < g.k; ++k) acc += int(a[k]) * int(b[k]);
    store_out<E>(g, row, col, acc);
  }
}

bool tiled_ok(const Int8Gemm& g) {
  auto aligned = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; };
  return g.k % 16 == 0 && aligned(g.a) && aligned(g.b);
}

template <Int8Epilogue E, int MinBlocks>
void launch_mma(const Int8Gemm& g) {
  static std::once_flag once;
  std::call_once(once, [] {
    QDIT_CUDA_CHECK(cudaFuncSetAttribute(int8_gemm_mma_kernel<E, MinBlocks>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes));
  });
  dim3 grid(static_cast<unsigned>((g.n + kBN - 1) / kBN), static_cast<unsigned>((g.m + kBM - 1) / kBM));
  int8_gemm_mma_kernel<E, MinBlocks><<<grid, kThreads, kSmemBytes, stream()>>>(g);
}

template <Int8Epilogue E>
void launch(const Int8Gemm& g, int variant) {
  if (tiled_ok(g)) {
    if (variant == 1)
      launch_mma<E, 2>(g);
    else
      launch_mma<E, 1>(g);
    QDIT_CUDA_LAUNCH_CHECK("int8_gemm_mma_kernel");
  } else {
    int8_gemm_simple_kernel<E><<<blocks_for(g.m * g.n, 256), 256, 0, stream()>>>(g);
    QDIT_CUDA_LAUNCH_CHECK("int8_gemm_simple_kernel");
  }
}

}  // namespace

const char* int8_gemm_kernel_name(const Int8Gemm& g) { return tiled_ok(g) ? "mma" : "simple"; }

void int8_gemm(const Int8Gemm& g, Int8Epilogue e) { int8_gemm_variant(g, e, kDefaultInt8Variant); }

void int8_gemm_variant(const Int8Gemm& g, Int8Epilogue e, int variant) {
  QDIT_CHECK(g.a && g.b && g.out, "int8_gemm: null operand");
  QDIT_CHECK(g.m >= 0 && g.n >= 0 && g.k >= 0, "int8_gemm: negative size");
  // Exactness of the int32 accumulation (modelslim-format.md §3): |acc| <= K * 128 * 128 must stay below 2^31.
  if (g.k > (int64_t(1) << 31) / (128 * 128) - 1)
    fail_internal("int8_gemm: K too large for exact int32 accumulation",
                  err_ctx("K <= 131071", "K = " + std::to_string(g.k)));
  if (g.m == 0 || g.n == 0) return;
  QDIT_CHECK(g.m <= int64_t(65535) * kBM, "int8_gemm: too many rows for one launch");
  switch (e) {
    case Int8Epilogue::StoreS32: launch<Int8Epilogue::StoreS32>(g, variant); break;
    case Int8Epilogue::Dynamic:
      QDIT_CHECK(g.row_scale && g.col_scale, "int8_gemm: dynamic epilogue needs both scales");
      launch<Int8Epilogue::Dynamic>(g, variant);
      break;
    case Int8Epilogue::Static:
      QDIT_CHECK(g.col_scale && g.col_offset, "int8_gemm: static epilogue needs deq_scale and quant_bias");
      launch<Int8Epilogue::Static>(g, variant);
      break;
  }
}

}  // namespace qdit::ops::cuda
