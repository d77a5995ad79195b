// The int8-QK attention kernel for Hopper (sm_90a); the contract is in attention_int8.h.
//
// Why this kernel: at Wan's 32760 tokens self-attention is ~60 % of the forward, and cuDNN's bf16 SDPA already runs
// near bf16 tensor-core speed. Doing q.k^T in int8 (wgmma s8, twice the bf16 rate) cuts the tensor-core time per
// key tile to 3/4 with P.V in fp16 (kFp8 = false), to 1/2 with P.V in e4m3 (kFp8 = true: 27.7 vs 34.3 ms on an
// H200, bench/RESULTS.md session 9; the accuracy trade is in attention_int8.h).
//
// Structure (one CTA per 192 query rows of one head, 384 threads):
//  - K tiles (128 keys x 128 int8), V^T tiles (128 channels x 128 keys: fp16 in two 64-key boxes, or e4m3 in one)
//    and the keys' scales stream through a ring of stages with TMA, each stage guarded by a "full" mbarrier; the
//    last warp done with a stage issues its next copy (no producer warp); the q tile is loaded once;
//  - three warpgroups of 64 query rows: S = q8 k8^T with four m64n128k32 s8 wgmmas (exact int32), the online
//    softmax in registers, then P V^T with eight m64n136k16 fp16 wgmmas into O, or four m64n136k32 e4m3 wgmmas into
//    a fresh accumulator added to O; the A operand (P) comes straight from registers (the int32 D fragment of S has
//    the layout of the 16-bit A fragment, hopper.cuh; for e4m3 the keys of v^T are permuted to make it so) and the
//    last 8 columns of the product are the row sums of P.
// Why this shape (all measured on an H200 at L = 32760, 40 heads, bench/RESULTS.md session 7): FlashAttention-3's
// pipelining (the next tile's q.k^T issued under this tile's softmax) keeps S, O and two P fragments live, ~250
// registers per thread. With a producer warpgroup and setmaxnreg 24/240 it spilled (ptxas serialised the wgmmas);
// with 256 threads and 255 registers it ran, and so did a ping-pong of two warpgroups, but neither beat the plain
// order (39.0 / 38.8 vs 37.6 ms), and 64-key tiles that fit the pipeline in 168 registers ran 38.0 ms. Three
// warpgroups in the plain order (168 registers, the most 384 threads can have) overlap one another instead and
// share each K/V tile among 192 rows: 34.3 ms, cuDNN 37.7 ms.
// Scores: s_int * q_scale * k_scale * softmax_scale * log2(e), k_scale one per key tile (so the row maximum is
// taken on the int32 scores and each score costs one integer add, one fma and the exponential on its way to P:
// the kernel is issue-bound, bench/RESULTS.md sessions 9-10); keys past the end (the last tile, zero-filled by TMA)
// get probability 0.
#include <cuda.h>
#include <cuda_bf16.h>

#include <climits>
#include <cmath>
#include <mutex>
#include <string>
#include <type_traits>

#include "qdit/ops/cuda/attention_int8.h"
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/hopper.cuh"
#include "qdit/ops/cuda/internal.h"
#include "qdit/ops/cuda/mma.cuh"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/cuda/tensor_map.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace sm90_attention {

using namespace sm90;

constexpr int kHd = 128;
constexpr int kWarpgroups = 3, kRowsPerWg = 64, kBlockM = kWarpgroups * kRowsPerWg;
constexpr int kBlockN = kInt8QkKeysPerTile;
constexpr int kThreads = 128 * kWarpgroups;
constexpr int kWarps = kThreads / 32;
constexpr int kStages = 3;
constexpr int kQBytes = kBlockM * kHd;            // int8
constexpr int kKBytes = kBlockN * kHd;            // int8
// V^T tiles: boxes of 128 channels x 128 bytes (one 128-byte swizzle row each): two 64-key boxes in fp16, one
// 128-key box in e4m3.
constexpr int kVBoxBytes = kHd * 128;
// Each V^T box is followed by 8 rows of ones (fp16 or e4m3), written once: the P.V MMA runs with N = 136, and its
// last 8 columns are the row sums of P (the same rounded P the products use), so the softmax adds nothing up itself.
constexpr int kOnesBytes = 8 * 128;
constexpr int kVBlockBytes = kVBoxBytes + kOnesBytes;
constexpr int kOutCols = kHd + 8;
// The key tile's k scales (128 floats, all the tile's one scale) come with it into shared memory: read from global
// memory inside the softmax, their latency sat on every tile's critical path (the loads cannot start before the MMA
// wait).
constexpr int kScaleBytes = kBlockN * 4;
template <bool kFp8>
struct Layout {
  static constexpr int kVBoxes = kFp8 ? 1 : 2, kVBoxKeys = kBlockN / kVBoxes;
  static constexpr int kStageBytes = kKBytes + kVBoxes * kVBlockBytes;
  static constexpr int kLoadBytes = kKBytes + kVBoxes * kVBoxBytes;  // what one stage's copies bring (not the ones)
  static constexpr int kSmemBytes = 1024 + kQBytes + kStages * (kStageBytes + kScaleBytes) + 8 * (1 + kStages);
  static constexpr uint32_t kOnes = kFp8 ? 0x38383838u : 0x3C003C00u;  // 1.0 in every element of a word
  static_assert(kSmemBytes <= 227 * 1024, "shared memory per block on H100/H200");
  static_assert(kQBytes % 1024 == 0 && kStageBytes % 1024 == 0 && kKBytes % 1024 == 0, "1024-byte swizzle atoms");
};

using Yes = std::true_type;
using No = std::false_type;

struct Args {
  const float* q_scale;  // [heads, lq]
  const float* k_scale;  // [heads, lk_padded]
  const float* v_scale;  // [heads * 128]
  void* out;             // [lq, heads * 128], F32 or BF16
  bool out_bf16;
  int lq, lk, lk_padded;
  int64_t ld_out;
  float scale_log2;  // softmax scale * log2(e)
};

// int32 -> float without the conversion unit (I2F runs at a quarter of the FMA rate, like ex2, and the softmax
// converts every score): for |i| < 2^22, 1.5 * 2^23 + i is an exact float whose bits are 0x4B400000 + i. The
// exponent argument i * c - b is then fma(magic_float(i), c, -(kMagic * c + b)); the one rounding of the constant
// term costs at most ~1 unit of i (|q8 . k8| <= 128 * 127 * 127 = 2064512 < 2^22, typical values in the
// thousands). Its effect on a logit is below 1e-4 of P's fp16 rounding.
constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
constexpr float kLazyLog2 = 8.0f;      // the softmax's reference maximum moves when exceeded by more than 2^8
__device__ __forceinline__ float magic_float(int i) { return __int_as_float(i + 0x4B400000); }

// Two exponentials (base 2) in one special-function instruction, fp16 in and out.
__device__ __forceinline__ uint32_t ex2_f16x2(uint32_t x) {
  uint32_t y;
  asm("ex2.approx.f16x2 %0, %1;\n" : "=r"(y) : "r"(x));
  return y;
}
// (lo, hi) rounded to fp16, lo in the low half.
__device__ __forceinline__ uint32_t pack_f16(float lo, float hi) {
  uint32_t r;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

// Four e4m3 (round to nearest even, saturating) from four floats, byte k = ak (two conversions, two floats each).
__device__ __forceinline__ uint32_t pack_e4m3x4(float a0, float a1, float a2, float a3) {
  uint32_t r;
  asm("{\n.reg .b16 l, h;\n"
      "cvt.rn.satfinite.e4m3x2.f32 l, %2, %1;\n"
      "cvt.rn.satfinite.e4m3x2.f32 h, %4, %3;\n"
      "mov.b32 %0, {l, h};\n}\n"
      : "=r"(r)
      : "f"(a0), "f"(a1), "f"(a2), "f"(a3));
  return r;
}

__device__ __forceinline__ float ex2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

template <bool kFp8>
__global__ void __launch_bounds__(kThreads, 1)
    attention_int8_qk_kernel(const __grid_constant__ CUtensorMap map_q, const __grid_constant__ CUtensorMap map_k,
                             const __grid_constant__ CUtensorMap map_vt, const Args a) {
  using L = Layout<kFp8>;
  constexpr int kStageBytes = L::kStageBytes;
  extern __shared__ unsigned char smem_raw[];
  const uint32_t base = (smem_addr(smem_raw) + 1023u) & ~1023u;
  const uint32_t q_s = base, scales = base + kQBytes + kStages * kStageBytes;
  const uint32_t bars = scales + kStages * kScaleBytes, q_full = bars;
  auto k_s = [&](uint32_t s) { return base + kQBytes + s * kStageBytes; };
  auto vt_s = [&](uint32_t s, int box) { return k_s(s) + kKBytes + box * kVBlockBytes; };
  auto full = [&](uint32_t s) { return bars + 8 + 8 * s; };
  __shared__ uint32_t releases[kStages];  // warps done with the tile in each stage (the copies' trigger)
  const int head = blockIdx.y, q0 = blockIdx.x * kBlockM;
  const int tiles = (a.lk + kBlockN - 1) / kBlockN;
  const int wg = threadIdx.x / 128;

  if (threadIdx.x == 0) {
    mbar_init(q_full, 1);
    for (int s = 0; s < kStages; ++s) {
      mbar_init(full(s), 1);                    // the loading thread's arrive (+ the copies' bytes)
      releases[s] = 0;
    }
    fence_mbar_init();
  }
  // The ones rows (any swizzle of them reads the same), then made visible to the MMAs, which read shared memory
  // through the async proxy.
  for (int i = threadIdx.x; i < kStages * L::kVBoxes * kOnesBytes / 4; i += kThreads) {
    const int block = i / (kOnesBytes / 4), word = i % (kOnesBytes / 4);
    const uint32_t at = vt_s(block / L::kVBoxes, block % L::kVBoxes) + kVBoxBytes + 4 * word;
    asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(at), "r"(L::kOnes) : "memory");
  }
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  __syncthreads();

  // ---- copies --------------------------------------------------------------------------------------------
  // Key tile n goes to stage n % kStages. Thread 0 loads the first kStages tiles; after that the last of the 8
  // warps to release a stage (a shared counter per stage) loads the tile kStages further into it, at once: no
  // producer warp is needed, and no refill waits for a poll.
  const float* k_scale_head = a.k_scale + int64_t(head) * a.lk_padded;
  auto issue_load = [&](int n) {
    const uint32_t st = n % kStages;
    mbar_arrive_expect_tx(full(st), L::kLoadBytes + kScaleBytes);
    bulk_load(scales + st * kScaleBytes, k_scale_head + int64_t(n) * kBlockN, kScaleBytes, full(st));
    tma_load_2d(k_s(st), &map_k, full(st), head * kHd, n * kBlockN);
#pragma unroll
    for (int b = 0; b < L::kVBoxes; ++b)
      tma_load_2d(vt_s(st, b), &map_vt, full(st), n * kBlockN + b * L::kVBoxKeys, head * kHd);
  };
  if (threadIdx.x == 0) {
    prefetch_tensor_map(&map_q);
    prefetch_tensor_map(&map_k);
    prefetch_tensor_map(&map_vt);
    mbar_arrive_expect_tx(q_full, kQBytes);
    tma_load_2d(q_s, &map_q, q_full, head * kHd, q0);
    for (int n = 0; n < kStages && n < tiles; ++n) issue_load(n);
  }
  // Waits until key tile t has landed in its stage.
  auto wait_tile = [&](int t) {
    mbar_wait(full(t % kStages), (t / kStages) & 1);
    __syncwarp();  // the warp leaves the spin together: wgmma is warp-aligned
  };

  // ---- consumers -------------------------------------------------------------------------------------------
  const int cw = wg, warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32, quad = lane % 4;
  // D fragments (wgmma_s8): this thread holds rows r and r + 8 of its warpgroup's 64, columns 8j + 2 * quad (+ 1).
  const int row0 = q0 + cw * kRowsPerWg + warp * 16 + lane / 4;
  float c_row[2];  // q_scale * softmax scale * log2(e) of the thread's two rows
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int row = row0 + 8 * h;
    c_row[h] = row < a.lq ? a.q_scale[int64_t(head) * a.lq + row] * a.scale_log2 : 0.f;
  }
  const uint32_t q_wg = q_s + cw * kRowsPerWg * kHd;

  float m[2] = {-INFINITY, -INFINITY};  // the running maximum the exponentials are taken against (log2 units)
  float o[kOutCols / 2];                 // O, then 4 copies of each row's sum of P (columns 128..135)
  int s[64];
  // P as A fragments: fp16, 16 keys per MMA (8 x 4 registers); e4m3, 32 keys per MMA (4 x 4 registers).
  constexpr int kPvSteps = kFp8 ? kBlockN / 32 : kBlockN / 16;
  uint32_t p[kPvSteps][4];
  float acc[kFp8 ? kOutCols / 2 : 1];  // e4m3: this tile's P.V and row sums, added to O in fp32
#pragma unroll
  for (int i = 0; i < kOutCols / 2; ++i) o[i] = 0.f;
  auto fence_s = [&] {
#pragma unroll
    for (int i = 0; i < 64; ++i) reg_fence(s[i]);
  };
  auto fence_o = [&] {
#pragma unroll
    for (int i = 0; i < kOutCols / 2; ++i) asm volatile("" : "+f"(o[i])::"memory");
  };
  auto fence_p = [&] {
#pragma unroll
    for (int kk = 0; kk < kPvSteps; ++kk)
#pragma unroll
      for (int i = 0; i < 4; ++i) asm volatile("" : "+r"(p[kk][i])::"memory");
  };
  auto fence_acc = [&] {
#pragma unroll
    for (int i = 0; i < int(sizeof(acc) / sizeof(float)); ++i) asm volatile("" : "+f"(acc[i])::"memory");
  };
  // S = q k^T for the key tile in `stage` (the registers of s are overwritten, not read).
  auto issue_qk = [&](uint32_t stage) {
    wgmma_fence();
    wgmma_s8_n128_first(s, desc_kmajor_sw128(q_wg), desc_kmajor_sw128(k_s(stage)));
#pragma unroll
    for (int ks = 1; ks < kHd / 32; ++ks)
      wgmma_s8<128>(s, desc_kmajor_sw128(q_wg + ks * 32), desc_kmajor_sw128(k_s(stage) + ks * 32), 1);
    wgmma_commit();
  };
  // O += P V^T (and the row sums) for the key tile in `stage`. Every register the MMAs read or write is fenced
  // before the first one is issued; none between them (touching an operand register there makes ptxas serialise
  // the batch); the fences after the wait order the reads.
  // e4m3: into acc, the first MMA overwriting it.
  auto issue_pv = [&](uint32_t stage) {
    fence_p();
    if constexpr (kFp8) {
      wgmma_fence();
      wgmma_e4m3_rs_n136_first(acc, p[0], desc_kmajor_sw128(vt_s(stage, 0)));
#pragma unroll
      for (int kk = 1; kk < kPvSteps; ++kk)
        wgmma_e4m3_rs_n136(acc, p[kk], desc_kmajor_sw128(vt_s(stage, 0) + kk * 32));
    } else {
      fence_o();
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < kPvSteps; ++kk)
        wgmma_f16_rs_n136(o, p[kk], desc_kmajor_sw128(vt_s(stage, kk / 4) + (kk % 4) * 32));
    }
    wgmma_commit();
  };
  // Softmax of key tile t (scores in s) into probabilities pp; corr: the factor O must be scaled by first (1
  // when the running maximum stands). kTail: the last tile, whose keys past the end get probability 0.
  //
  // fp16: the maximum moves lazily (as in FlashAttention-4): only when a row's tile maximum exceeds it by more
  // than kLazyLog2, so probabilities stay below 2^kLazyLog2 (harmless in fp16 and fp32) and O is rescaled in a few
  // early tiles instead of every one. The ratio O / rowsum is unchanged by the reference point chosen.
  // e4m3: the maximum follows every larger score and P = 2^(score - max + log2(448)) fills e4m3's range (O is
  // rescaled every tile anyway, when the tile's acc is added).
  constexpr float kSlack = kFp8 ? 0.f : kLazyLog2;
  constexpr float kPOffset = kFp8 ? 8.807354922057604f : 0.f;  // log2(448)
  auto softmax = [&](auto tail_c, int t, float (&corr)[2]) {
    constexpr bool kTail = decltype(tail_c)::value;
    // The tile's k scale: every key of a tile carries the same one (the contract), so the row maximum is taken
    // over the exact int32 scores and the exponent argument is one fma per score.
    float ks;
    asm volatile("ld.shared.f32 %0, [%1];\n" : "=f"(ks) : "r"(scales + (uint32_t(t) % kStages) * kScaleBytes));
    int mx[2] = {INT_MIN, INT_MIN};
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      const int col = t * kBlockN + 8 * j + 2 * quad;
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        if constexpr (kTail) {  // keys past the end (zero-filled, scores 0) take no part in the maximum
          if (col >= a.lk) s[4 * j + 2 * h] = INT_MIN;
          if (col + 1 >= a.lk) s[4 * j + 2 * h + 1] = INT_MIN;
        }
        mx[h] = max(mx[h], max(s[4 * j + 2 * h], s[4 * j + 2 * h + 1]));
      }
    }
    float cr[2], nc[2];  // log2 units per unit of int32 score; minus the exponent argument's constant term
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      mx[h] = max(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
      mx[h] = max(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
      cr[h] = ks * c_row[h];
      const float cand = static_cast<float>(mx[h]) * cr[h];  // every tile holds a valid key: mx is a score
      corr[h] = 1.f;
      if (cand > m[h] + kSlack) {  // always on the first tile (m = -inf): corr = 0 then, O is still zero
        corr[h] = ex2(m[h] - cand);
        m[h] = cand;
      }
      // score * cr - (m - offset) = fma(magic_float(score), cr, -(kMagic * cr + m - offset)): the constant's one
      // rounding costs at most ~1 unit of the int32 score (see magic_float).
      nc[h] = -fmaf(kMagic, cr[h], m[h] - kPOffset);
    }
    // The fp16 pair of P for columns 8j + 2 * quad (+ 1) of row h (elements 4j + 2h (+ 1) of s).
    auto p_pair = [&](int j, int h) {
      const int i = 4 * j + 2 * h;
      uint32_t pair = ex2_f16x2(
          pack_f16(fmaf(magic_float(s[i]), cr[h], nc[h]), fmaf(magic_float(s[i + 1]), cr[h], nc[h])));
      if constexpr (kTail) {  // keys past the end: 0
        const int col = t * kBlockN + 8 * j + 2 * quad;
        if (col >= a.lk) pair &= 0xFFFF0000u;
        if (col + 1 >= a.lk) pair &= 0x0000FFFFu;
      }
      return pair;
    };
    // e4m3: the probabilities of the same columns in fp32 (ex2.approx.f16x2 is two MUFU operations on sm_90, no
    // cheaper than two fp32 ones, and the fp32 route saves the conversion to fp16 before the exponential: an
    // instruction fewer per pair in a kernel that Nsight Compute shows issue-bound, bench/RESULTS.md session 9).
    auto p_f32 = [&](int j, int h, int e) {
      const float pr = ex2(fmaf(magic_float(s[4 * j + 2 * h + e]), cr[h], nc[h]));
      if constexpr (kTail) {  // keys past the end: 0
        if (t * kBlockN + 8 * j + 2 * quad + e >= a.lk) return 0.f;
      }
      return pr;
    };
    // Straight into the A fragments. fp16: p[kk][r] holds columns 16kk + 8(r / 2) + 2 * quad (+ 1) of row r % 2,
    // where the fp16 A fragment wants them. e4m3: p[kk][r] holds the pairs of columns 32kk + 16(r / 2) + 2 * quad
    // and 8 further, row r % 2, in the bytes the 8-bit A fragment gives columns 4 * quad .. + 3 (+ 16): v^T's
    // keys are permuted to match (fp8_key_of_column).
#pragma unroll
    for (int kk = 0; kk < kPvSteps; ++kk)
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        if constexpr (kFp8) {
          const int j = 4 * kk + 2 * (r / 2), h = r % 2;
          p[kk][r] = pack_e4m3x4(p_f32(j, h, 0), p_f32(j, h, 1), p_f32(j + 1, h, 0), p_f32(j + 1, h, 1));
        } else {
          p[kk][r] = p_pair(2 * kk + r / 2, r % 2);
        }
      }
  };
  // Tile t's softmax with the tail handling only where it is needed (a uniform branch).
  const bool ragged = tiles * kBlockN > a.lk;
  auto softmax_of = [&](int t, float (&corr)[2]) {
    if (ragged && t == tiles - 1)
      softmax(Yes{}, t, corr);
    else
      softmax(No{}, t, corr);
  };
  // O *= corr, skipped by the whole warp when no row of it moved its maximum (most tiles).
  auto rescale_o = [&](const float (&corr)[2]) {
    if (!__any_sync(0xffffffffu, corr[0] != 1.f || corr[1] != 1.f)) return;
#pragma unroll
    for (int j = 0; j < kOutCols / 8; ++j)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        o[4 * j + 2 * h] *= corr[h];
        o[4 * j + 2 * h + 1] *= corr[h];
      }
  };
  // This warp is done with key tile n (its MMAs on the stage have completed): the last warp refills the stage.
  auto release = [&](int n) {
    if (lane == 0) {
      const uint32_t st = uint32_t(n) % kStages;
      __threadfence_block();
      if (atomicAdd(&releases[st], 1u) == kWarps - 1) {
        releases[st] = 0;  // nobody counts on this stage again before the copy below has landed and been used
        __threadfence_block();
        if (n + kStages < tiles) issue_load(n + kStages);
      }
    }
    __syncwarp();
  };

  mbar_wait(q_full, 0);
  float corr[2];
  for (int t = 0; t < tiles; ++t) {
    const uint32_t stage = uint32_t(t) % kStages;
    wait_tile(t);
    issue_qk(stage);
    wgmma_wait<0>();
    fence_s();
    softmax_of(t, corr);
    if constexpr (!kFp8) rescale_o(corr);
    issue_pv(stage);
    wgmma_wait<0>();
    if constexpr (kFp8) {
      fence_acc();
#pragma unroll
      for (int j = 0; j < kOutCols / 8; ++j)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          o[4 * j + 2 * h] = fmaf(o[4 * j + 2 * h], corr[h], acc[4 * j + 2 * h]);
          o[4 * j + 2 * h + 1] = fmaf(o[4 * j + 2 * h + 1], corr[h], acc[4 * j + 2 * h + 1]);
        }
    } else {
      fence_o();
    }
    fence_p();
    release(t);
  }

  // ---- O / rowsum * v_scale, stored ---------------------------------------------------------------------------
  const float* v_scale = a.v_scale + head * kHd + 2 * quad;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int row = row0 + 8 * h;
    if (row >= a.lq) continue;
    const float inv = 1.0f / o[kHd / 2 + 2 * h];  // the row's largest probability is >= 1 (fp16) or 448 (e4m3)
    const int64_t at = int64_t(row) * a.ld_out + head * kHd + 2 * quad;
#pragma unroll
    for (int j = 0; j < kHd / 8; ++j) {
      const float2 vs = *reinterpret_cast<const float2*>(v_scale + 8 * j);
      const float v0 = o[4 * j + 2 * h] * inv * vs.x, v1 = o[4 * j + 2 * h + 1] * inv * vs.y;
      if (a.out_bf16)
        *reinterpret_cast<uint32_t*>(static_cast<__nv_bfloat16*>(a.out) + at + 8 * j) = pack_bf16(v0, v1);
      else
        *reinterpret_cast<float2*>(static_cast<float*>(a.out) + at + 8 * j) = make_float2(v0, v1);
    }
  }
}

template <bool kFp8>
void launch(const CUtensorMap& map_q, const CUtensorMap& map_k, const CUtensorMap& map_vt, const Args& a,
            int64_t heads) {
  constexpr int kSmemBytes = Layout<kFp8>::kSmemBytes;
  static std::once_flag once;
  std::call_once(once, [&] {
    QDIT_CUDA_CHECK(cudaFuncSetAttribute(attention_int8_qk_kernel<kFp8>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes));
  });
  const dim3 grid(static_cast<unsigned>((a.lq + kBlockM - 1) / kBlockM), static_cast<unsigned>(heads));
  attention_int8_qk_kernel<kFp8><<<grid, kThreads, kSmemBytes, stream()>>>(map_q, map_k, map_vt, a);
  QDIT_CUDA_LAUNCH_CHECK("attention_int8_qk_kernel");
}

}  // namespace sm90_attention

void attention_int8_qk_sm90(const Int8QkOperands& op, float scale, Tensor& out) {
  using namespace sm90_attention;
  const int64_t width = op.heads * kHd;
  if (op.lq > INT32_MAX / 2 || op.lk_padded > INT32_MAX / 2 || op.heads > 65535)
    fail_internal("attention (int8 QK): problem too large for one launch",
                  err_ctx("at most 2^30 tokens and 65535 heads",
                          std::to_string(op.lq) + " x " + std::to_string(op.lk) + " tokens, " +
                              std::to_string(op.heads) + " heads"));
  const CUtensorMap map_q = tensor_map_2d_sw128(op.q8, CU_TENSOR_MAP_DATA_TYPE_UINT8, 1, width, op.lq, width, kHd,
                                                kBlockM, "attention (int8 QK) q");
  // e4m3: the copies may read to lk_padded (the preparation wrote zeros there), since the key permutation moves
  // keys of the last block of 32 across lk.
  const bool fp8 = op.pv == PvFormat::E4M3;
  const CUtensorMap map_vt =
      fp8 ? tensor_map_2d_sw128(op.vt, CU_TENSOR_MAP_DATA_TYPE_UINT8, 1, op.lk_padded, width, op.lk_padded, kBlockN,
                                kHd, "attention (int8 QK) v^T e4m3")
          : tensor_map_2d_sw128(op.vt, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2, op.lk, width, op.lk_padded * 2, 64, kHd,
                                "attention (int8 QK) v^T");
  Args a;
  a.q_scale = op.q_scale;
  a.k_scale = op.k_scale;
  a.v_scale = op.v_scale;
  a.out = out.raw();
  a.out_bf16 = out.dtype() == DType::BF16;
  a.lq = static_cast<int>(op.lq);
  a.lk = static_cast<int>(op.lk);
  a.lk_padded = static_cast<int>(op.lk_padded);
  a.ld_out = width;
  a.scale_log2 = scale * 1.4426950408889634f;
  const CUtensorMap map_k = tensor_map_2d_sw128(op.k8, CU_TENSOR_MAP_DATA_TYPE_UINT8, 1, width, op.lk, width, kHd,
                                                kBlockN, "attention (int8 QK) k");
  if (fp8)
    launch<true>(map_q, map_k, map_vt, a, op.heads);
  else
    launch<false>(map_q, map_k, map_vt, a, op.heads);
}

}  // namespace qdit::ops::cuda
