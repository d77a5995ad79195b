// Int8 x int8 -> int32 GEMM on the tensor cores (mma.sync m16n8k32), "TN": both operands K-contiguous, which is
// how activations [T,K] and weights [N,K] are stored. The dequantization (per-token and per-channel scales, bias,
// or static quant_bias and deq_scale) runs on the int32 accumulators in registers and the kernel writes the
// final fp32 output: no int32 matrix ever reaches device memory (except in the StoreS32 test epilogue).
//
// Tiling: a 256-thread block computes 128x128 outputs; 8 warps in 2 (M) x 4 (N), each 64x32; K advances by 128
// bytes per stage through a 3-stage cp.async pipeline (96 KiB of shared memory, XOR-swizzled for ldmatrix).
//
// This file also holds the dispatcher over all int8 kernels (the Hopper ones live in int8_gemm_sm90.cu): which
// kernel runs is a fixed rule on the operands, stated in internal.h and reported by int8_gemm_kernel_name.
#include <climits>
#include <mutex>

#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/int8_epilogue.cuh"
#include "qdit/ops/cuda/int8_gemm_sm90.h"
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
// The kernel int8_gemm runs whenever the operands allow it (see int8_gemm_path). Chosen by same-run
// measurement (bench/RESULTS.md, session 4, H200, two calls): the 256x128 Hopper kernel was the fastest at every
// Wan shape (1267-1383 TOP/s with its epilogue; 128x224: 1097-1402 with K = 13824 its only near tie; ping-pong
// 983-1050; multicast 720-1007; mma.sync 575-654).
constexpr Int8Kernel kDefaultInt8Kernel = Int8Kernel::Sm90Tile256x128;

template <Int8Epilogue E, int MinBlocks>
__global__ void __launch_bounds__(kThreads, MinBlocks) int8_gemm_mma_kernel(const Int8Gemm g, const bool vec) {
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
  for (int ni = 0; ni < 4; ++ni) {
    const int64_t col = n0 + warp_n * 32 + ni * 8 + tig * 2;
    if (col >= g.n) continue;
    const bool second = col + 1 < g.n;
    const ColPair c = load_col_pair<E>(g, col, second);
#pragma unroll
    for (int mi = 0; mi < 4; ++mi)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int64_t row = m0 + warp_m * 64 + mi * 16 + grp + h * 8;
        if (row >= g.m) continue;
        const float rs = E == Int8Epilogue::Dynamic ? g.row_scale[row] : 0.0f;
        store_col_pair<E>(g, row, col, acc[mi][ni][h * 2], acc[mi][ni][h * 2 + 1], c, rs, second, vec && second);
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
    const float rs = E == Int8Epilogue::Dynamic ? g.row_scale[row] : 0.0f;
    store_col_pair<E>(g, row, col, acc, 0, load_col_pair<E>(g, col, false), rs, false, false);
  }
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

template <Int8Epilogue E, int MinBlocks>
void launch_mma(const Int8Gemm& g) {
  static std::once_flag once;
  std::call_once(once, [] {
    QDIT_CUDA_CHECK(cudaFuncSetAttribute(int8_gemm_mma_kernel<E, MinBlocks>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes));
  });
  dim3 grid(static_cast<unsigned>((g.n + kBN - 1) / kBN), static_cast<unsigned>((g.m + kBM - 1) / kBM));
  int8_gemm_mma_kernel<E, MinBlocks><<<grid, kThreads, kSmemBytes, stream()>>>(g, int8_pair_stores_ok(g, E));
  QDIT_CUDA_LAUNCH_CHECK("int8_gemm_mma_kernel");
}

template <Int8Epilogue E>
void launch(const Int8Gemm& g, Int8Kernel kernel) {
  switch (kernel) {
    case Int8Kernel::Mma1Block: launch_mma<E, 1>(g); break;
    case Int8Kernel::Mma2Blocks: launch_mma<E, 2>(g); break;
    case Int8Kernel::Simple:
      int8_gemm_simple_kernel<E><<<blocks_for(g.m * g.n, 256), 256, 0, stream()>>>(g);
      QDIT_CUDA_LAUNCH_CHECK("int8_gemm_simple_kernel");
      break;
    default: int8_gemm_sm90(g, E, kernel); break;
  }
}

}  // namespace

const char* int8_kernel_name(Int8Kernel k) {
  switch (k) {
    case Int8Kernel::Mma1Block: return "mma_1block";
    case Int8Kernel::Mma2Blocks: return "mma_2blocks";
    case Int8Kernel::Sm90Tile128x224: return "sm90_128x224";
    case Int8Kernel::Sm90Tile128x224Multicast: return "sm90_128x224_mc2";
    case Int8Kernel::Sm90Tile256x128: return "sm90_256x128";
    case Int8Kernel::Sm90Tile256x128Multicast: return "sm90_256x128_mc2";
    case Int8Kernel::Sm90PingPong2x128x128: return "sm90_2x128x128_pingpong";
    case Int8Kernel::Sm90Tile256x128TmaStore: return "sm90_256x128_tma_store";
    case Int8Kernel::Simple: return "simple";
  }
  return "unknown";
}

bool int8_kernel_accepts(Int8Kernel kernel, const Int8Gemm& g) {
  const bool k16 = g.k % 16 == 0 && aligned16(g.a) && aligned16(g.b);
  switch (kernel) {
    case Int8Kernel::Simple: return true;
    case Int8Kernel::Mma1Block:
    case Int8Kernel::Mma2Blocks: return k16 && g.m <= int64_t(65535) * kBM;
    case Int8Kernel::Sm90Tile256x128TmaStore: {
      // The output tensor map's rules too: rows a multiple of 16 bytes apart, a 16-byte aligned base (the int32
      // test epilogue has 4-byte elements like f32).
      const int64_t elem = g.out_bf16 ? 2 : 4;
      return k16 && g.k > 0 && g.m <= INT_MAX && g.n <= INT_MAX && (g.n * elem) % 16 == 0 && aligned16(g.out);
    }
    default:  // Sm90*: TMA coordinates are 32-bit
      return k16 && g.k > 0 && g.m <= INT_MAX && g.n <= INT_MAX;
  }
}

Int8Kernel int8_gemm_path(const Int8Gemm& g) {
  // bf16 output: the same tiles with the TMA-store epilogue, 2.5-10 % faster at K = 5120 in three calls
  // (bench/RESULTS.md, session 8; with f32 output slower in two of three, so f32 keeps the register stores).
  if (g.out_bf16 && int8_kernel_accepts(Int8Kernel::Sm90Tile256x128TmaStore, g)) return Int8Kernel::Sm90Tile256x128TmaStore;
  return int8_kernel_accepts(kDefaultInt8Kernel, g) ? kDefaultInt8Kernel : Int8Kernel::Simple;
}

const char* int8_gemm_kernel_name(const Int8Gemm& g) { return int8_kernel_name(int8_gemm_path(g)); }

void int8_gemm(const Int8Gemm& g, Int8Epilogue e) { int8_gemm_with(g, e, int8_gemm_path(g)); }

void int8_gemm_with(const Int8Gemm& g, Int8Epilogue e, Int8Kernel kernel) {
  QDIT_CHECK(g.a && g.b && g.out, "int8_gemm: null operand");
  QDIT_CHECK(g.m >= 0 && g.n >= 0 && g.k >= 0, "int8_gemm: negative size");
  // Exactness of the int32 accumulation (modelslim-format.md §3): |acc| <= K * 128 * 128 must stay below 2^31.
  if (g.k > (int64_t(1) << 31) / (128 * 128) - 1)
    fail_internal("int8_gemm: K too large for exact int32 accumulation",
                  err_ctx("K <= 131071", "K = " + std::to_string(g.k)));
  if (e == Int8Epilogue::StoreS32 && g.out_bf16)
    fail_internal("int8_gemm: the int32 test epilogue has no bf16 output", err_ctx("out_bf16 = false", "true"));
  if (!int8_kernel_accepts(kernel, g))
    fail_internal(std::string("int8_gemm: kernel ") + int8_kernel_name(kernel) + " cannot take these operands",
                  err_ctx("K % 16 == 0 (K > 0 for sm90), a and b 16-byte aligned, M within the kernel's grid",
                          "M = " + std::to_string(g.m) + ", K = " + std::to_string(g.k)));
  if (g.m == 0 || g.n == 0) return;
  switch (e) {
    case Int8Epilogue::StoreS32: launch<Int8Epilogue::StoreS32>(g, kernel); break;
    case Int8Epilogue::Dynamic:
      QDIT_CHECK(g.row_scale && g.col_scale, "int8_gemm: dynamic epilogue needs both scales");
      launch<Int8Epilogue::Dynamic>(g, kernel);
      break;
    case Int8Epilogue::Static:
      QDIT_CHECK(g.col_scale && g.col_offset, "int8_gemm: static epilogue needs deq_scale and quant_bias");
      launch<Int8Epilogue::Static>(g, kernel);
      break;
  }
}

}  // namespace qdit::ops::cuda
