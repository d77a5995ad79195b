// Int8 x int8 -> exact int32 GEMM for Hopper (sm_90a), the kernel template and its launcher. "TN" like the
// mma.sync kernel (activations [M,K] and weights [N,K], both K-contiguous), with the dequantizing epilogue
// applied to the accumulators in registers.
//
// Why this shape of kernel: mma.sync tops out near 600 TOP/s on an H200 (bench/RESULTS.md sessions 1-3); the
// int8 rate of Hopper needs the warpgroup MMA (wgmma), which reads both operands from shared memory, so the
// kernel is built around keeping the tensor cores fed:
//  - one producer warpgroup (a single thread issues bulk tensor copies, TMA, into 128-byte-swizzled shared
//    memory) and two consumer warpgroups (wgmma + epilogue), the producer's registers given to the consumers
//    (setmaxnreg);
//  - a ring of pipeline stages (128 bytes of K each) guarded by "full" (copy landed) and "empty" (MMAs done)
//    mbarriers; the producer runs ahead across tile boundaries, so it refills stages while consumers store;
//  - persistent CTAs walking the tiles in bands of rows, so the tiles in flight share operands in L2;
//  - optionally 2-CTA clusters on vertically adjacent tiles: each CTA loads half of the shared weight tile and
//    multicasts it to both, halving the weight traffic from L2;
//  - optionally ping-pong (PP = 2): each consumer warpgroup owns whole tiles (the CTA's tiles alternate between
//    the two) and one stores while the other multiplies, so the epilogue overlaps MMAs. Both are fed from the
//    one ring of stages in the order they consume it (tile t's k-blocks, then tile t + 1's), so the whole ring
//    is in flight for the warpgroup at the tensor cores. The two take turns (named barriers hand the turn over
//    once a warpgroup has issued its tile's last MMA): besides keeping one warpgroup at the tensor cores at a
//    time, the turn is what makes the ring's parity waits sound, since a warpgroup that skipped the other's
//    k-blocks could otherwise wait on a stage two or more fills behind and see a stale phase of the same
//    parity. (The first form gave each warpgroup its own ring and producer thread, half the depth each, and
//    measured slower than the cooperative tile: bench/RESULTS.md.)
//    With PP = 1 both warpgroups split one tile and store at the same time, the tensor cores idle meanwhile;
//  - optionally (TS, "TMA store", PP = 1 and CM = 1 only) the epilogue writes its results into two 8 KB
//    shared-memory buffers per warpgroup and the copy engine stores them (cp.async.bulk.tensor): the warpgroup
//    goes back to its MMAs as soon as the last buffer is written, and the stores drain under the next tile's
//    MMAs. Measured on H200s in three calls (bench/RESULTS.md, session 8): with bf16 output faster than the
//    register stores at K = 5120 in all three (2.5-10 %; their bf16 form issues twice the store instructions per
//    byte), with f32 output slower in two of three (a warpgroup then waits on 8 boxes per tile; 4 buffers per
//    warpgroup, which cost a pipeline stage, were slower still). Needs the output's row stride to be a multiple of
//    16 bytes (a tensor-map rule); the tensor map clips the tile at the M and N edges.
// Tiles: BM = (2 / PP) consumer warpgroups x MR x 64 rows, BN columns (one m64nBNk32 per 64 rows per 32 bytes of K;
// the tiles here use N = 128 and 224; s8 wgmma also takes 256, measured no faster: session 11). K tails and M/N
// edges are zero-filled by the copy engine (zeros add nothing to the exact sums); the epilogue stores only rows
// < M and columns < N.
//
// Each tile configuration is instantiated in its own translation unit (int8_gemm_sm90_<tile>.cu) so that the
// heavy ptxas work builds in parallel; int8_gemm_sm90.cu holds the tensor-map encoding and the dispatch.
#pragma once
#include <cuda.h>

#include <algorithm>
#include <string>

#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/hopper.cuh"
#include "qdit/ops/cuda/int8_epilogue.cuh"
#include "qdit/ops/cuda/internal.h"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda::sm90_gemm {

using namespace sm90;

constexpr int kBK = 128;        // bytes (= int8 elements) of K per stage: exactly one 128-byte swizzle row
constexpr int kConsumers = 2;   // consumer warpgroups per CTA
constexpr int kThreads = 128 * (1 + kConsumers);
constexpr int kProducerRegs = 40, kConsumerRegs = 232;  // 40 * 128 + 232 * 256 = 64512 <= 65536 registers
constexpr int kSmemLimit = 227 * 1024;                   // opt-in shared memory per block on H100/H200
constexpr int kBandRows = 2048;                          // rows of activations per band of the tile order

// The TMA-store epilogue's staging: per consumer warpgroup two buffers of one 128-byte-swizzled box each, 64
// rows x 128 bytes (32 f32/int32 or 64 bf16 columns), so one buffer is written while the other is stored.
constexpr int kStoreBoxRows = 64, kStoreBoxBytes = kStoreBoxRows * 128, kStoreBuffers = 2;

template <int BN, int MR, int CM, int PP, bool TS>
struct Tile {
  static_assert(CM == 1 || CM == 2, "clusters of 1 or 2 CTAs");
  static_assert(PP == 1 || (PP == kConsumers && CM == 1), "ping-pong without clusters");
  static_assert(!TS || (PP == 1 && CM == 1), "the TMA-store epilogue: cooperative tiles, no clusters");
  static_assert(!TS || BN % 64 == 0, "the TMA-store epilogue stores boxes of 32 or 64 columns");
  static constexpr int kWgPerTile = kConsumers / PP;  // consumer warpgroups sharing one tile
  static constexpr int kRowsPerWg = 64 * MR;
  static constexpr int BM = kRowsPerWg * kWgPerTile;
  static constexpr int kABytes = BM * kBK, kBBytes = BN * kBK, kStageBytes = kABytes + kBBytes;
  static constexpr int kBarrierBytes = 256;
  static constexpr int kStagingBytes = TS ? kConsumers * kStoreBuffers * kStoreBoxBytes : 0;
  static constexpr int kStages =
      (kSmemLimit - 1024 - kBarrierBytes - kStagingBytes) / kStageBytes;  // one ring, whatever PP
  // + realignment slack
  static constexpr int kSmemBytes = kStages * kStageBytes + kStagingBytes + 1024 + kBarrierBytes;
  static constexpr int kBoxRowsB = BN / CM;  // weight rows each CTA of a cluster loads (and multicasts)
  static_assert(kABytes % 1024 == 0 && kStageBytes % 1024 == 0 && (kBoxRowsB * kBK) % 1024 == 0,
                "every operand tile must start on a 1024-byte swizzle atom");
  static_assert(BM <= 256 && kBoxRowsB <= 256, "a TMA box has at most 256 rows");
  static_assert(kStages >= 3 && 16 * kStages <= kBarrierBytes, "pipeline depth");
};

// Persistent tile order. A unit is CM vertically adjacent tiles (one per CTA of a cluster, same weight
// columns). Units are walked in bands of `band_units` unit-rows, column by column inside a band, so the ~130
// tiles in flight cover a few thousand activation rows and a slice of weight columns, both held in L2.
struct Schedule {
  int m_tiles = 0, n_tiles = 0, m_units = 0, units = 0, band_units = 1;
  __device__ __forceinline__ void unit_tile(int u, int& mu, int& nb) const {
    const int per_band = band_units * n_tiles;
    const int band = u / per_band, first = band * band_units;
    const int rows = min(m_units - first, band_units);
    const int local = u - band * per_band;
    mu = first + local % rows;
    nb = local / rows;
  }
};

// The TMA-store epilogue of one consumer warpgroup's part of a tile (rows row0 .. row0 + 64 * MR, columns col0 ..
// col0 + BN): per box of 64 rows x 128 bytes, the dequantized values are written into one of the warpgroup's two
// staging buffers in the 128-byte-swizzled layout (16-byte chunk c of row r at chunk c ^ (r % 8), conflict-free
// for the D fragment: see wgmma_s8), then one thread stores the box. Before a buffer is written again the store
// that last read it must be done reading: the storing thread waits for its previous store before the barrier
// that hands the next buffer over, so writing box i overlaps the copy engine reading box i - 1. The last two
// stores of a tile drain under the next tile's MMAs. ELEM: bytes per output element (4: f32 or int32, 2: bf16).
template <int ELEM, Int8Epilogue E, int BN, int MR>
__device__ __forceinline__ void tma_store_epilogue(const Int8Gemm& g, const int (&acc)[MR][BN / 2],
                                                   const CUtensorMap* map_out, uint32_t staging, uint32_t& box,
                                                   int row0, int col0, int warp, int lane, uint32_t barrier) {
  constexpr int kCols = 128 / ELEM;     // columns per box
  constexpr int kJ = kCols / 8;         // D-fragment column groups (8 columns) per box
  const int quad = lane % 4, rr = lane / 4;  // rr = row % 8 of both of the thread's rows
  const bool issuer = threadIdx.x % 128 == 0;
  const bool has_bias = g.bias != nullptr;
  float rs[MR][2];
#pragma unroll
  for (int mr = 0; mr < MR; ++mr)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int row = row0 + mr * 64 + warp * 16 + rr + 8 * h;  // (32-bit: the sm90 kernels take M, N <= INT_MAX)
      rs[mr][h] = (E == Int8Epilogue::Dynamic && row < g.m) ? g.row_scale[row] : 0.0f;
    }
  // Boxes in the order (mr, c); a column pair's constants are loaded where they are used (a second time for the
  // second mr, from L1): kept for a whole column box they pushed the consumers past their registers.
#pragma unroll
  for (int mr = 0; mr < MR; ++mr)
#pragma unroll
    for (int c = 0; c < BN / kCols; ++c) {
      const uint32_t buf = staging + (box % kStoreBuffers) * kStoreBoxBytes;
#pragma unroll
      for (int jj = 0; jj < kJ; ++jj) {
        const int j = c * kJ + jj;
        const int col = col0 + 8 * j + 2 * quad;
        ColPair cp;
        if (col < g.n) cp = load_col_pair<E>(g, col, col + 1 < g.n);  // past N: zeros, clipped by the store
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int a0 = acc[mr][4 * j + 2 * h], a1 = acc[mr][4 * j + 2 * h + 1];
          const uint32_t row = buf + (warp * 16 + rr + 8 * h) * 128;
          if constexpr (ELEM == 4) {
            uint32_t w0 = static_cast<uint32_t>(a0), w1 = static_cast<uint32_t>(a1);
            if constexpr (E != Int8Epilogue::StoreS32) {
              w0 = __float_as_uint(dequant<E>(a0, cp.s0, cp.b0, cp.o0, rs[mr][h], has_bias));
              w1 = __float_as_uint(dequant<E>(a1, cp.s1, cp.b1, cp.o1, rs[mr][h], has_bias));
            }
            const uint32_t at = row + ((((2 * jj + (quad >> 1)) ^ rr) << 4) | (8 * (quad & 1)));
            asm volatile("st.shared.v2.b32 [%0], {%1, %2};\n" ::"r"(at), "r"(w0), "r"(w1) : "memory");
          } else {
            const float v0 = dequant<E>(a0, cp.s0, cp.b0, cp.o0, rs[mr][h], has_bias);
            const float v1 = dequant<E>(a1, cp.s1, cp.b1, cp.o1, rs[mr][h], has_bias);
            const uint32_t at = row + (((jj ^ rr) << 4) | (4 * quad));
            asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(at), "r"(pack_bf16(v0, v1)) : "memory");
          }
        }
      }
      fence_proxy_async_smem();
      if (issuer) bulk_wait_read<0>();  // the previous box is read: its buffer is the next one written
      named_sync(barrier, 128);
      if (issuer) {
        tma_store_2d(map_out, buf, col0 + c * kCols, row0 + mr * 64);
        bulk_commit();
      }
      ++box;
    }
}

// TS_ELEM: 0 for the register-store epilogue, else the TMA-store epilogue for outputs of TS_ELEM bytes (4: f32
// or int32, 2: bf16; a compile-time choice: with both forms in one kernel the consumers spilled).
template <int BN, int MR, int CM, int PP, int TS_ELEM, Int8Epilogue E>
__global__ void __launch_bounds__(kThreads, 1)
    int8_gemm_sm90_kernel(const __grid_constant__ CUtensorMap map_a, const __grid_constant__ CUtensorMap map_b,
                          const __grid_constant__ CUtensorMap map_out, const Int8Gemm g, const Schedule sc,
                          const bool vec, const bool lean) {
  constexpr bool TS = TS_ELEM != 0;
  using T = Tile<BN, MR, CM, PP, TS>;
  extern __shared__ unsigned char smem_raw[];
  const uint32_t base = (smem_addr(smem_raw) + 1023u) & ~1023u;
  const uint32_t staging0 = base + T::kStages * T::kStageBytes;  // TS: the epilogue's buffers
  const uint32_t full0 = staging0 + T::kStagingBytes, empty0 = full0 + 8 * T::kStages;
  const int wg = threadIdx.x / 128;
  const uint32_t rank = CM > 1 ? cluster_ctarank() : 0;
  // The CTA's tiles in the order the ring carries them: slot t is unit worker0 + t % PP + (t / PP) * unit_step
  // (units spread CTA-major; with PP = 2 a CTA takes pairs of consecutive units, one per warpgroup).
  const int worker0 = (blockIdx.x / CM) * PP, unit_step = (gridDim.x / CM) * PP;
  auto unit_of = [&](int t) { return worker0 + t % PP + (t / PP) * unit_step; };
  const int kblocks = static_cast<int>((g.k + kBK - 1) / kBK);

  if (threadIdx.x == 0) {
    for (int s = 0; s < T::kStages; ++s) {
      mbar_init(full0 + 8 * s, 1);                          // the producer's arrive (+ the copies' bytes)
      mbar_init(empty0 + 8 * s, 4 * T::kWgPerTile * CM);    // one arrive per consumer warp it feeds
    }
    fence_mbar_init();
  }
  if constexpr (CM > 1)
    cluster_sync();  // the peer's barriers exist before anything is multicast or arrived on them
  else
    __syncthreads();

  if (wg == 0) {
    // ---- producer ----------------------------------------------------------------------------------------
    setmaxnreg_dec<kProducerRegs>();
    if (threadIdx.x == 0) {
      prefetch_tensor_map(&map_a);
      prefetch_tensor_map(&map_b);
      uint32_t stage = 0, phase = 0;
      for (int t = 0, u = unit_of(0); u < sc.units; u = unit_of(++t)) {
        int mu, nb;
        sc.unit_tile(u, mu, nb);
        const int m_blk = mu * CM + static_cast<int>(rank);
        // A cluster's second tile past the last row (odd tile count) still runs its MMAs in step with its peer;
        // it reads any valid rows and is never stored. Likewise a weight half-tile wholly past N.
        const int a_row = m_blk < sc.m_tiles ? m_blk * T::BM : 0;
        int b_row = nb * BN + static_cast<int>(rank) * T::kBoxRowsB;
        if (b_row >= g.n) b_row = 0;
        for (int kb = 0; kb < kblocks; ++kb) {
          const uint32_t full = full0 + 8 * stage;
          mbar_wait(empty0 + 8 * stage, phase ^ 1);
          const uint32_t sa = base + stage * T::kStageBytes, sb = sa + T::kABytes;
          mbar_arrive_expect_tx(full, T::kStageBytes);  // own A tile + the whole B tile (both halves, CM = 2)
          tma_load_2d(sa, &map_a, full, kb * kBK, a_row);
          if constexpr (CM == 1)
            tma_load_2d(sb, &map_b, full, kb * kBK, b_row);
          else
            tma_load_2d_multicast(sb + rank * T::kBoxRowsB * kBK, &map_b, full, kb * kBK, b_row,
                                  static_cast<uint16_t>((1u << CM) - 1));
          if (++stage == T::kStages) {
            stage = 0;
            phase ^= 1;
          }
        }
      }
    }
  } else {
    // ---- consumers -----------------------------------------------------------------------------------------
    setmaxnreg_inc<kConsumerRegs>();
    const int cw = wg - 1, warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
    const int first_slot = PP > 1 ? cw : 0;                  // ping-pong: this warpgroup's slots alternate
    const int wg_row = PP > 1 ? 0 : cw * T::kRowsPerWg;      // this warpgroup's rows inside the tile
    int acc[MR][BN / 2];
    auto fence_acc = [&] {
#pragma unroll
      for (int mr = 0; mr < MR; ++mr)
#pragma unroll
        for (int i = 0; i < BN / 2; ++i) reg_fence(acc[mr][i]);
    };
    // Stage `s` may be refilled once every consumer warp (of both CTAs, CM = 2) is done reading it.
    auto release = [&](uint32_t s) {
      if (lane == 0) mbar_arrive(empty0 + 8 * s);
      if constexpr (CM > 1) {
        if (lane == 1) mbar_arrive_remote(empty0 + 8 * s, rank ^ 1u);
      }
    };
    // Ping-pong turns: barrier kTurn + w means "warpgroup w may issue its next tile's MMAs"; the other
    // warpgroup arrives on it exactly once per tile of w that follows (so no arrival is left unmatched).
    constexpr uint32_t kTurn = 1, kTurnThreads = 128 * kConsumers;
    auto tiles_of = [&](int w) {  // the tiles warpgroup w runs (ping-pong): units worker0 + w + j * unit_step
      const int first = worker0 + w;
      return first < sc.units ? (sc.units - first + unit_step - 1) / unit_step : 0;
    };
    const int other_tiles = PP > 1 ? tiles_of(cw ^ 1) : 0;
    if constexpr (PP > 1) {
      if (cw == 1 && other_tiles > 0) named_arrive(kTurn + 0, kTurnThreads);  // warpgroup 0 goes first
    }
    uint32_t box = 0;  // TS: boxes this warpgroup has stored (its staging buffer alternates)
    int tile = 0;      // this warpgroup's tiles so far
    for (int t = first_slot, u = unit_of(t); u < sc.units; t += PP, u = unit_of(t), ++tile) {
      int mu, nb;
      sc.unit_tile(u, mu, nb);
      const int m_blk = mu * CM + static_cast<int>(rank);
      if constexpr (PP > 1) named_sync(kTurn + cw, kTurnThreads);
      // Slot t's k-blocks are ring entries t * kblocks .. + kblocks - 1 (the other warpgroup's slots between).
      const int64_t entry = int64_t(t) * kblocks;
      uint32_t stage = static_cast<uint32_t>(entry % T::kStages), phase = static_cast<uint32_t>((entry / T::kStages) & 1);
      uint32_t prev = 0;
      for (int kb = 0; kb < kblocks; ++kb) {
        mbar_wait(full0 + 8 * stage, phase);
        __syncwarp();  // the warp leaves the spin together: the wgmma instructions below are warp-aligned
        const uint32_t sa = base + stage * T::kStageBytes + wg_row * kBK;
        const uint32_t sb = base + stage * T::kStageBytes + T::kABytes;
        fence_acc();
        wgmma_fence();
#pragma unroll
        for (int ks = 0; ks < kBK / 32; ++ks)
#pragma unroll
          for (int mr = 0; mr < MR; ++mr)
            wgmma_s8<BN>(acc[mr], desc_kmajor_sw128(sa + mr * 64 * kBK + ks * 32), desc_kmajor_sw128(sb + ks * 32),
                         (kb > 0 || ks > 0) ? 1 : 0);
        wgmma_commit();
        fence_acc();
        // One group stays in flight while the next stage is awaited; the one before it is complete, so its
        // stage goes back to the producer.
        wgmma_wait<1>();
        if (kb > 0) release(prev);
        prev = stage;
        if (++stage == T::kStages) {
          stage = 0;
          phase ^= 1;
        }
      }
      if constexpr (PP > 1) {
        // Every MMA of this tile is issued: the other warpgroup may issue its next tile's while this one
        // finishes and stores.
        const bool other_has_next = cw == 0 ? tile < other_tiles : tile + 1 < other_tiles;
        if (other_has_next) named_arrive(kTurn + (cw ^ 1), kTurnThreads);
      }
      wgmma_wait<0>();
      fence_acc();
      release(prev);

      if constexpr (TS) {
        const int wg_row0 = m_blk * T::BM + wg_row, tile_col0 = nb * BN;
        const uint32_t staging = staging0 + cw * kStoreBuffers * kStoreBoxBytes;
        constexpr uint32_t kStoreBarrier = 3;  // + cw: this warpgroup's own (1, 2 are the ping-pong turns)
        tma_store_epilogue<TS_ELEM, E, BN, MR>(g, acc, &map_out, staging, box, wg_row0, tile_col0, warp, lane,
                                               kStoreBarrier + cw);
      } else if (m_blk < sc.m_tiles) {
        // Thread (warp, lane) holds rows 16 * warp + lane / 4 (+ 8) of each 64-row slice and columns
        // 8j + 2 * (lane % 4) (+ 1): see wgmma_s8.
        const int64_t row0 = int64_t(m_blk) * T::BM + wg_row + warp * 16 + lane / 4;
        const int64_t col0 = int64_t(nb) * BN + 2 * (lane % 4);
        if constexpr (E != Int8Epilogue::StoreS32) {  // a tile wholly inside the output: the lean epilogue
          if (lean && int64_t(m_blk + 1) * T::BM <= g.m && int64_t(nb + 1) * BN <= g.n) {
            store_tile_interior<E, MR, BN>(g, acc, row0, col0);
            continue;
          }
        }
        float rs[MR][2];
        bool row_ok[MR][2];
#pragma unroll
        for (int mr = 0; mr < MR; ++mr)
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const int64_t row = row0 + mr * 64 + h * 8;
            row_ok[mr][h] = row < g.m;
            rs[mr][h] = (E == Int8Epilogue::Dynamic && row_ok[mr][h]) ? g.row_scale[row] : 0.0f;
          }
#pragma unroll
        for (int j = 0; j < BN / 8; ++j) {
          const int64_t col = col0 + 8 * j;
          if (col < g.n) {
            const bool second = col + 1 < g.n;
            const ColPair c = load_col_pair<E>(g, col, second);
#pragma unroll
            for (int mr = 0; mr < MR; ++mr)
#pragma unroll
              for (int h = 0; h < 2; ++h)
                if (row_ok[mr][h])
                  store_col_pair<E>(g, row0 + mr * 64 + h * 8, col, acc[mr][4 * j + 2 * h], acc[mr][4 * j + 2 * h + 1],
                                    c, rs[mr][h], second, vec && second);
          }
        }
      }
    }
    if constexpr (TS) {
      if (threadIdx.x % 128 == 0) bulk_wait_all();  // the staging buffers stay valid until the stores are done
    }
  }
  if constexpr (CM > 1) cluster_sync();  // no CTA leaves while its peer may still arrive on its barriers
}

// A row-major [rows, k] int8 matrix read in boxes of `box_rows` rows x 128 bytes, 128-byte swizzled,
// out-of-range elements read as zeros (int8_gemm_sm90.cu).
CUtensorMap kmajor_map(const int8_t* p, int64_t rows, int64_t k, int box_rows, const char* which);
// The [M, N] output of `elem`-byte elements written in the TMA-store epilogue's boxes (64 rows x 128 bytes,
// 128-byte swizzled); needs (N * elem) % 16 == 0 and a 16-byte aligned base (int8_gemm_sm90.cu).
CUtensorMap output_map(const Int8Gemm& g, int elem);

template <int BN, int MR, int CM, int PP, int TS_ELEM, Int8Epilogue E>
void launch_kernel(const Int8Gemm& g) {
  constexpr bool TS = TS_ELEM != 0;
  using T = Tile<BN, MR, CM, PP, TS>;
  auto kernel = int8_gemm_sm90_kernel<BN, MR, CM, PP, TS_ELEM, E>;
  cudaLaunchAttribute cluster;
  cluster.id = cudaLaunchAttributeClusterDimension;
  cluster.val.clusterDim.x = CM;
  cluster.val.clusterDim.y = 1;
  cluster.val.clusterDim.z = 1;
  cudaLaunchConfig_t cfg = {};
  cfg.blockDim = dim3(kThreads);
  cfg.dynamicSmemBytes = T::kSmemBytes;
  cfg.stream = stream();
  cfg.attrs = &cluster;
  cfg.numAttrs = CM > 1 ? 1 : 0;  // single CTAs launch without a cluster attribute
  // How many CTAs (clusters) fit on the device at once: the persistent grid is never larger.
  static const int max_clusters = [&] {
    QDIT_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, T::kSmemBytes));
    int n = 0;
    if constexpr (CM > 1) {
      cudaLaunchConfig_t probe = cfg;
      probe.gridDim = dim3(CM * device_info().multiprocessors);
      QDIT_CUDA_CHECK(cudaOccupancyMaxActiveClusters(&n, kernel, &probe));
    } else {
      QDIT_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, kThreads, T::kSmemBytes));
      n *= device_info().multiprocessors;
    }
    if (n <= 0)
      fail_internal("int8_gemm (sm90): the kernel cannot be resident on this device",
                    err_ctx("at least one cluster of " + std::to_string(CM) + " CTA(s) with " +
                                std::to_string(T::kSmemBytes) + " bytes of shared memory",
                            "0"));
    return n;
  }();

  Schedule sc;
  sc.m_tiles = static_cast<int>((g.m + T::BM - 1) / T::BM);
  sc.n_tiles = static_cast<int>((g.n + BN - 1) / BN);
  sc.m_units = (sc.m_tiles + CM - 1) / CM;
  sc.units = sc.m_units * sc.n_tiles;
  sc.band_units = std::max(1, kBandRows / (T::BM * CM));
  cfg.gridDim = dim3(static_cast<unsigned>(CM * std::min(max_clusters, (sc.units + PP - 1) / PP)));

  const CUtensorMap map_a = kmajor_map(g.a, g.m, g.k, T::BM, "a (activations)");
  const CUtensorMap map_b = kmajor_map(g.b, g.n, g.k, T::kBoxRowsB, "b (weights)");
  const CUtensorMap map_out = TS ? output_map(g, TS_ELEM) : map_a;  // (unused without TS)
  const bool vec = int8_pair_stores_ok(g, E), lean = int8_lean_epilogue_ok(g, E);
  QDIT_CUDA_CHECK(cudaLaunchKernelEx(&cfg, kernel, map_a, map_b, map_out, g, sc, vec, lean));
}

template <int BN, int MR, int CM, int PP, bool TS, Int8Epilogue E>
void launch(const Int8Gemm& g) {
  if constexpr (!TS)
    launch_kernel<BN, MR, CM, PP, 0, E>(g);
  else if constexpr (E == Int8Epilogue::StoreS32)
    launch_kernel<BN, MR, CM, PP, 4, E>(g);
  else if (g.out_bf16)
    launch_kernel<BN, MR, CM, PP, 2, E>(g);
  else
    launch_kernel<BN, MR, CM, PP, 4, E>(g);
}

template <int BN, int MR, int CM, int PP, bool TS = false>
void launch_epilogue(const Int8Gemm& g, Int8Epilogue e) {
  switch (e) {
    case Int8Epilogue::StoreS32: launch<BN, MR, CM, PP, TS, Int8Epilogue::StoreS32>(g); break;
    case Int8Epilogue::Dynamic: launch<BN, MR, CM, PP, TS, Int8Epilogue::Dynamic>(g); break;
    case Int8Epilogue::Static: launch<BN, MR, CM, PP, TS, Int8Epilogue::Static>(g); break;
  }
}

// One per tile configuration (int8_gemm_sm90_<tile>.cu).
void launch_128x224(const Int8Gemm& g, Int8Epilogue e);
void launch_128x224_mc2(const Int8Gemm& g, Int8Epilogue e);
void launch_256x128(const Int8Gemm& g, Int8Epilogue e);
void launch_256x128_mc2(const Int8Gemm& g, Int8Epilogue e);
void launch_2x128x128_pingpong(const Int8Gemm& g, Int8Epilogue e);
void launch_256x128_tma_store(const Int8Gemm& g, Int8Epilogue e);

}  // namespace qdit::ops::cuda::sm90_gemm
