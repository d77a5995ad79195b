// The int8-QK attention kernel for Hopper (sm_90a); the contract is in attention_int8.h.
//
// Why this kernel: at Wan's 32760 tokens self-attention is ~60 % of the forward, and cuDNN's bf16 SDPA already runs
// near bf16 tensor-core speed. Doing q.k^T in int8 (wgmma s8, twice the bf16 rate) cuts the tensor-core time per
// key tile to 3/4 (the P.V half stays bf16, see the accuracy study in bench/RESULTS.md).
//
// Structure (one CTA per 128 query rows of one head):
//  - K tiles (128 keys x 128 int8) and V^T tiles (128 channels x 128 keys bf16, two 64-key boxes) stream through
//    a ring of stages with TMA, guarded by full/empty mbarriers (as in the int8 GEMM, int8_gemm_sm90_kernel.cuh),
//    issued by thread 0 between its own MMAs; the q tile is loaded once;
//  - two consumer warpgroups, 64 query rows each: S = q8 k8^T with four m64n128k32 s8 wgmmas (exact int32), the
//    online softmax in fp32 registers, then O += P V^T with eight m64n128k16 bf16 wgmmas whose A operand (P) comes
//    straight from registers: the int32 D fragment of S has the layout of the bf16 A fragment (hopper.cuh);
//  - kOverlap: the MMAs of the next key tile's S are issued before the P.V of the current one, so the tensor
//    cores work on both while the softmax of the next tile runs (FlashAttention-3's intra-warpgroup pipelining).
// Scores: s_int * q_scale * k_scale * softmax_scale * log2(e), exponentials are exp2 (ex2.approx); keys past the
// end (the last tile, zero-filled by TMA) get probability 0.
#include <cuda.h>
#include <cuda_bf16.h>

#include <cmath>
#include <mutex>
#include <string>

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
constexpr int kConsumers = 2, kRowsPerWg = 64, kBlockM = kConsumers * kRowsPerWg;
constexpr int kBlockN = kInt8QkKeysPerTile;
// Two warpgroups and no producer warpgroup: the softmax pipeline needs ~240 registers per thread, and ptxas
// compiles a 384-thread kernel to 168 whatever setmaxnreg later grants (it spilled: S, O and two P fragments are
// live at once). With 256 threads the budget is 255. Thread 0 issues the copies instead (load_ready below).
constexpr int kThreads = 128 * kConsumers;
constexpr int kStages = 4;
constexpr int kQBytes = kBlockM * kHd;            // int8
constexpr int kKBytes = kBlockN * kHd;            // int8
constexpr int kVHalfBytes = kHd * 64 * 2;         // 128 channels x 64 keys, bf16: one 128-byte swizzle row each
constexpr int kStageBytes = kKBytes + 2 * kVHalfBytes;
constexpr int kSmemBytes = 1024 + kQBytes + kStages * kStageBytes + 8 * (1 + 2 * kStages);
static_assert(kSmemBytes <= 227 * 1024, "shared memory per block on H100/H200");
static_assert(kQBytes % 1024 == 0 && kStageBytes % 1024 == 0 && kKBytes % 1024 == 0, "1024-byte swizzle atoms");

struct Args {
  const float* q_scale;  // [heads, lq]
  const float* k_scale;  // [heads, lk_padded]
  void* out;             // [lq, heads * 128], F32 or BF16
  bool out_bf16;
  int lq, lk, lk_padded;
  int64_t ld_out;
  float scale_log2;  // softmax scale * log2(e)
};

__device__ __forceinline__ float ex2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

template <bool kOverlap>
__global__ void __launch_bounds__(kThreads, 1)
    attention_int8_qk_kernel(const __grid_constant__ CUtensorMap map_q, const __grid_constant__ CUtensorMap map_k,
                             const __grid_constant__ CUtensorMap map_vt, const Args a) {
  extern __shared__ unsigned char smem_raw[];
  const uint32_t base = (smem_addr(smem_raw) + 1023u) & ~1023u;
  const uint32_t q_s = base, bars = base + kQBytes + kStages * kStageBytes, q_full = bars;
  auto k_s = [&](uint32_t s) { return base + kQBytes + s * kStageBytes; };
  auto vt_s = [&](uint32_t s) { return k_s(s) + kKBytes; };
  auto full = [&](uint32_t s) { return bars + 8 + 8 * s; };
  auto empty = [&](uint32_t s) { return bars + 8 + 8 * kStages + 8 * s; };
  const int head = blockIdx.y, q0 = blockIdx.x * kBlockM;
  const int tiles = (a.lk + kBlockN - 1) / kBlockN;
  const int wg = threadIdx.x / 128;

  if (threadIdx.x == 0) {
    mbar_init(q_full, 1);
    for (int s = 0; s < kStages; ++s) {
      mbar_init(full(s), 1);                  // the producer's arrive (+ the copies' bytes)
      mbar_init(empty(s), 4 * kConsumers);    // one arrive per consumer warp
    }
    fence_mbar_init();
  }
  __syncthreads();

  // Copies of key tile n go to stage n % kStages once both warpgroups have released tile n - kStages there
  // (the empty barrier's phase; a fresh barrier counts as released). Only thread 0 issues them, and it never
  // blocks on a release: load_ready() issues what is free now, and thread 0 calls it before each tile and while it
  // waits for a tile to land (so a tile the other warpgroup still holds is loaded as soon as it is released).
  int loaded = 0;
  auto issue_load = [&](int n) {
    const uint32_t st = n % kStages;
    mbar_arrive_expect_tx(full(st), kStageBytes);
    tma_load_2d(k_s(st), &map_k, full(st), head * kHd, n * kBlockN);
    tma_load_2d(vt_s(st), &map_vt, full(st), n * kBlockN, head * kHd);
    tma_load_2d(vt_s(st) + kVHalfBytes, &map_vt, full(st), n * kBlockN + 64, head * kHd);
  };
  auto load_ready = [&] {
    while (loaded < tiles && mbar_try_wait(empty(loaded % kStages), ((loaded / kStages) & 1) ^ 1)) issue_load(loaded++);
  };
  if (threadIdx.x == 0) {
    prefetch_tensor_map(&map_q);
    prefetch_tensor_map(&map_k);
    prefetch_tensor_map(&map_vt);
    mbar_arrive_expect_tx(q_full, kQBytes);
    tma_load_2d(q_s, &map_q, q_full, head * kHd, q0);
    load_ready();  // the first kStages tiles: every stage is free
  }
  // Waits until key tile t has landed in its stage (thread 0 keeps issuing copies meanwhile).
  auto wait_tile = [&](int t) {
    const uint32_t bar = full(t % kStages), parity = (t / kStages) & 1;
    if (threadIdx.x == 0) {
      load_ready();
      const uint64_t t0 = global_timer_ns();
      while (!mbar_try_wait(bar, parity)) {
        load_ready();
        if (global_timer_ns() - t0 > 10000000000ull) __trap();  // a lost copy: fail loudly, never hang
      }
    } else {
      mbar_wait(bar, parity);
    }
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
  const float* ks_head = a.k_scale + int64_t(head) * a.lk_padded + 2 * quad;
  const uint32_t q_wg = q_s + cw * kRowsPerWg * kHd;

  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};  // l: this thread's share of the row sums
  float o[64];
  int s[64];
  uint32_t p[8][4];
#pragma unroll
  for (int i = 0; i < 64; ++i) o[i] = 0.f;
  auto fence_s = [&] {
#pragma unroll
    for (int i = 0; i < 64; ++i) reg_fence(s[i]);
  };
  auto fence_o = [&] {
#pragma unroll
    for (int i = 0; i < 64; ++i) asm volatile("" : "+f"(o[i])::"memory");
  };
  auto fence_p = [&](uint32_t (&pp)[8][4]) {
#pragma unroll
    for (int kk = 0; kk < 8; ++kk)
#pragma unroll
      for (int i = 0; i < 4; ++i) asm volatile("" : "+r"(pp[kk][i])::"memory");
  };
  // Issues S = q k^T for key tile `qk_stage` and/or O += P V^T for `pv_stage` (-1: none) as one batch: every
  // register the MMAs read or write is fenced before the first one is issued. (Touching an operand register
  // between the MMAs of one batch makes ptxas serialise all of them.)
  auto issue = [&](int qk_stage, int pv_stage, uint32_t (&pp)[8][4]) {
    fence_o();
    fence_p(pp);
    wgmma_fence();
    if (qk_stage >= 0) {
      wgmma_s8_n128_first(s, desc_kmajor_sw128(q_wg), desc_kmajor_sw128(k_s(qk_stage)));
#pragma unroll
      for (int ks = 1; ks < kHd / 32; ++ks)
        wgmma_s8<128>(s, desc_kmajor_sw128(q_wg + ks * 32), desc_kmajor_sw128(k_s(qk_stage) + ks * 32), 1);
      wgmma_commit();
    }
    if (pv_stage >= 0) {
#pragma unroll
      for (int kk = 0; kk < kBlockN / 16; ++kk)
        wgmma_bf16_rs_n128(o, pp[kk], desc_kmajor_sw128(vt_s(pv_stage) + (kk / 4) * kVHalfBytes + (kk % 4) * 32),
                           1);
      wgmma_commit();
    }
    // No register fences here: reading s or o before the MMAs retire (even an empty asm naming them) makes ptxas
    // serialise the batch; the fences after each wgmma_wait order the reads instead.
  };
  // Softmax of key tile t (scores in s) into probabilities pp; corr: the factor O must be scaled by first.
  auto softmax = [&](int t, uint32_t (&pp)[8][4], float (&corr)[2]) {
    const float* ksp = ks_head + t * kBlockN;
    const bool tail = (t + 1) * kBlockN > a.lk;
    float x[64];
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      const float2 kscale = *reinterpret_cast<const float2*>(ksp + 8 * j);
      const int col = t * kBlockN + 8 * j + 2 * quad;
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float x0 = static_cast<float>(s[4 * j + 2 * h]) * kscale.x;
        float x1 = static_cast<float>(s[4 * j + 2 * h + 1]) * kscale.y;
        if (tail) {
          if (col >= a.lk) x0 = -INFINITY;
          if (col + 1 >= a.lk) x1 = -INFINITY;
        }
        x[4 * j + 2 * h] = x0;
        x[4 * j + 2 * h + 1] = x1;
        mx[h] = fmaxf(mx[h], fmaxf(x0, x1));
      }
    }
    float m_new[2], rs[2] = {0.f, 0.f};
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
      m_new[h] = fmaxf(m[h], mx[h] * c_row[h]);  // every tile holds a valid key: mx is finite
      corr[h] = ex2(m[h] - m_new[h]);            // 0 on the first tile (m = -inf)
      m[h] = m_new[h];
    }
#pragma unroll
    for (int j = 0; j < 16; ++j)
#pragma unroll
      for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int i = 4 * j + 2 * h + e;
          float pv = ex2(fmaf(x[i], c_row[h], -m_new[h]));
          if (tail && t * kBlockN + 8 * j + 2 * quad + e >= a.lk) pv = 0.f;  // also when c_row = 0 (-inf * 0)
          x[i] = pv;
          rs[h] += pv;
        }
#pragma unroll
    for (int kk = 0; kk < 8; ++kk) {
      pp[kk][0] = pack_bf16(x[8 * kk + 0], x[8 * kk + 1]);
      pp[kk][1] = pack_bf16(x[8 * kk + 2], x[8 * kk + 3]);
      pp[kk][2] = pack_bf16(x[8 * kk + 4], x[8 * kk + 5]);
      pp[kk][3] = pack_bf16(x[8 * kk + 6], x[8 * kk + 7]);
    }
#pragma unroll
    for (int h = 0; h < 2; ++h) l[h] = l[h] * corr[h] + rs[h];
  };
  auto rescale_o = [&](const float (&corr)[2]) {
#pragma unroll
    for (int j = 0; j < 16; ++j)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        o[4 * j + 2 * h] *= corr[h];
        o[4 * j + 2 * h + 1] *= corr[h];
      }
  };
  auto release = [&](int st) {
    if (lane == 0) mbar_arrive(empty(st));
  };

  mbar_wait(q_full, 0);
  float corr[2];
  if constexpr (!kOverlap) {
    for (int t = 0; t < tiles; ++t) {
      const int stage = t % kStages;
      wait_tile(t);
      issue(stage, -1, p);
      wgmma_wait<0>();
      fence_s();
      softmax(t, p, corr);
      rescale_o(corr);
      issue(-1, stage, p);
      wgmma_wait<0>();
      fence_o();
      fence_p(p);
      release(stage);
    }
  } else {
    wait_tile(0);
    issue(0, -1, p);
    wgmma_wait<0>();
    fence_s();
    softmax(0, p, corr);  // O is still zero: nothing to rescale
    // One step: S of tile t and P.V of tile t - 1 on the tensor cores, the softmax of tile t meanwhile. The two P
    // fragments alternate by unrolling (a copy between them would sit inside the MMAs' pipeline, and ptxas then
    // serialises every wgmma).
    uint32_t p2[8][4];
    auto step = [&](int t, uint32_t (&cur)[8][4], uint32_t (&next)[8][4]) {
      const int stage = t % kStages, prev = (t - 1) % kStages;
      wait_tile(t);
      issue(stage, prev, cur);  // q.k^T first: its group completes first
      wgmma_wait<1>();          // S of tile t is ready; P.V of tile t - 1 may still run
      fence_s();
      softmax(t, next, corr);
      wgmma_wait<0>();
      fence_o();
      fence_p(cur);
      release(prev);
      rescale_o(corr);
    };
    auto finish = [&](uint32_t (&cur)[8][4]) {
      const int last = (tiles - 1) % kStages;
      issue(-1, last, cur);
      wgmma_wait<0>();
      fence_o();
      fence_p(cur);
      release(last);
    };
    int t = 1;
    for (; t + 1 < tiles; t += 2) {
      step(t, p, p2);
      step(t + 1, p2, p);
    }
    if (t < tiles) {
      step(t, p, p2);
      finish(p2);
    } else {
      finish(p);
    }
  }

  // ---- O / l, stored ------------------------------------------------------------------------------------------
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
    const int row = row0 + 8 * h;
    if (row >= a.lq) continue;
    const float inv = 1.0f / l[h];  // l >= 1: the row's largest score contributes exp2(0)
    const int64_t at = int64_t(row) * a.ld_out + head * kHd + 2 * quad;
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      const float v0 = o[4 * j + 2 * h] * inv, v1 = o[4 * j + 2 * h + 1] * inv;
      if (a.out_bf16)
        *reinterpret_cast<uint32_t*>(static_cast<__nv_bfloat16*>(a.out) + at + 8 * j) = pack_bf16(v0, v1);
      else
        *reinterpret_cast<float2*>(static_cast<float*>(a.out) + at + 8 * j) = make_float2(v0, v1);
    }
  }
}

template <bool kOverlap>
void launch(const CUtensorMap& map_q, const CUtensorMap& map_k, const CUtensorMap& map_vt, const Args& a,
            int64_t heads) {
  auto kernel = attention_int8_qk_kernel<kOverlap>;
  static std::once_flag once;
  std::call_once(once, [&] {
    QDIT_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes));
  });
  const dim3 grid(static_cast<unsigned>((a.lq + kBlockM - 1) / kBlockM), static_cast<unsigned>(heads));
  kernel<<<grid, kThreads, kSmemBytes, stream()>>>(map_q, map_k, map_vt, a);
  QDIT_CUDA_LAUNCH_CHECK("attention_int8_qk_kernel");
}

}  // namespace sm90_attention

void attention_int8_qk_sm90(const Int8QkOperands& op, float scale, Tensor& out, bool overlap) {
  using namespace sm90_attention;
  const int64_t width = op.heads * kHd;
  if (op.lq > INT32_MAX / 2 || op.lk_padded > INT32_MAX / 2 || op.heads > 65535)
    fail_internal("attention (int8 QK): problem too large for one launch",
                  err_ctx("at most 2^30 tokens and 65535 heads",
                          std::to_string(op.lq) + " x " + std::to_string(op.lk) + " tokens, " +
                              std::to_string(op.heads) + " heads"));
  const CUtensorMap map_q = tensor_map_2d_sw128(op.q8, CU_TENSOR_MAP_DATA_TYPE_UINT8, 1, width, op.lq, width, kHd,
                                                kBlockM, "attention (int8 QK) q");
  const CUtensorMap map_k = tensor_map_2d_sw128(op.k8, CU_TENSOR_MAP_DATA_TYPE_UINT8, 1, width, op.lk, width, kHd,
                                                kBlockN, "attention (int8 QK) k");
  const CUtensorMap map_vt = tensor_map_2d_sw128(op.vt, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, op.lk, width,
                                                 op.lk_padded * 2, 64, kHd, "attention (int8 QK) v^T");
  Args a;
  a.q_scale = op.q_scale;
  a.k_scale = op.k_scale;
  a.out = out.raw();
  a.out_bf16 = out.dtype() == DType::BF16;
  a.lq = static_cast<int>(op.lq);
  a.lk = static_cast<int>(op.lk);
  a.lk_padded = static_cast<int>(op.lk_padded);
  a.ld_out = width;
  a.scale_log2 = scale * 1.4426950408889634f;
  if (overlap)
    launch<true>(map_q, map_k, map_vt, a, op.heads);
  else
    launch<false>(map_q, map_k, map_vt, a, op.heads);
}

}  // namespace qdit::ops::cuda
