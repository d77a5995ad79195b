// Attention on the GPU, never materialising the Lq x Lk score matrix (online softmax, as in FlashAttention-2).
// Which kernel runs is the rule of attention_cudnn.h: BF16 with head_dim 64 or 128 goes to cuDNN's fused SDPA
// engine (attention_cudnn.cu); the rest (and every shape with QDIT_ATTENTION=own) to our own kernels:
//  - BF16 precision, head_dim 64 or 128: a tensor-core kernel (mma.sync bf16, fp32 softmax and accumulation).
//    A block of 4 warps owns 64 query rows of one head; K/V tiles of 64 keys stream through a double-buffered
//    cp.async pipeline; P stays in registers between the two MMAs.
//  - FP32 precision (or another head_dim): a CUDA-core kernel in fp32, one warp per query row. With BF16
//    precision its inputs are first rounded to bf16, so both kernels compute the same function.
#include <cuda_bf16.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "qdit/ops/cuda/arena.h"
#include "qdit/ops/cuda/attention_cudnn.h"
#include "qdit/ops/cuda/attention_int8.h"
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/internal.h"
#include "qdit/ops/cuda/mma.cuh"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace {

// Keys per K/V tile. A block has W warps of 16 query rows each; more warps share each K/V tile (less shared
// memory traffic per FLOP) at the price of fewer blocks per SM. The benchmark compares W = 4 and 8; 8 was
// slightly faster on an H200 (109 vs 113 ms at L=32760, 40 heads, bench/RESULTS.md session 2).
constexpr int kFlashKeys = 64;
constexpr int kDefaultFlashWarps = 8;

template <int HD, int W>
constexpr int flash_smem_bytes() {
  return (16 * W + 4 * kFlashKeys) * HD * 2;  // Q + double-buffered K and V, bf16
}

struct FlashArgs {
  const __nv_bfloat16* q;
  const __nv_bfloat16* k;
  const __nv_bfloat16* v;
  float* out;
  int lq, lk;
  int64_t ld;  // elements between consecutive tokens (heads * head_dim) in q, k, v and out
  float scale_log2;  // softmax scale times log2(e): exponentials are exp2
};

template <int HD, int W>
__global__ void __launch_bounds__(32 * W) flash_bf16_kernel(const FlashArgs a) {
  constexpr int C = HD / 8;  // 16-byte chunks per row
  constexpr int kFlashRows = 16 * W, kFlashThreads = 32 * W;
  extern __shared__ __align__(128) unsigned char smem[];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int head = blockIdx.y;
  const int q0 = blockIdx.x * kFlashRows;
  const uint32_t q_s = smem_addr(smem);
  const uint32_t kv_s = q_s + kFlashRows * HD * 2;  // stage s: K at kv_s + s*2*tile, V right after it
  constexpr uint32_t kTile = kFlashKeys * HD * 2;

  auto load_rows = [&](uint32_t dst, const __nv_bfloat16* base, int row0, int rows, int limit) {
    for (int id = tid; id < rows * C; id += kFlashThreads) {
      int r = id / C, c = id % C;
      bool ok = row0 + r < limit;
      const __nv_bfloat16* src = ok ? base + int64_t(row0 + r) * a.ld + head * HD + c * 8 : base;
      cp_async16(dst + swizzle(r, c, C), src, ok);
    }
  };

  const int n_tiles = (a.lk + kFlashKeys - 1) / kFlashKeys;
  load_rows(q_s, a.q, q0, kFlashRows, a.lq);
  load_rows(kv_s, a.k, 0, kFlashKeys, a.lk);
  load_rows(kv_s + kTile, a.v, 0, kFlashKeys, a.lk);
  cp_async_commit();

  uint32_t qf[HD / 16][4];
  float o[HD / 8][4];
#pragma unroll
  for (int i = 0; i < HD / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.0f, 0.0f};
  const int grp = lane >> 2, tig = lane & 3;

  for (int j = 0; j < n_tiles; ++j) {
    const int stage = j & 1;
    if (j + 1 < n_tiles) {
      uint32_t nk = kv_s + (stage ^ 1) * 2 * kTile;
      load_rows(nk, a.k, (j + 1) * kFlashKeys, kFlashKeys, a.lk);
      load_rows(nk + kTile, a.v, (j + 1) * kFlashKeys, kFlashKeys, a.lk);
    }
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    if (j == 0) {
#pragma unroll
      for (int kk = 0; kk < HD / 16; ++kk)
        ldmatrix_x4(qf[kk], q_s + swizzle(warp * 16 + (lane & 15), kk * 2 + (lane >> 4), C));
    }
    const uint32_t k_s = kv_s + stage * 2 * kTile, v_s = k_s + kTile;

    // S = Q K^T for this warp's 16 rows and the tile's 64 keys.
    float s[kFlashKeys / 8][4];
#pragma unroll
    for (int i = 0; i < kFlashKeys / 8; ++i) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < HD / 16; ++kk) {
#pragma unroll
      for (int np = 0; np < kFlashKeys / 16; ++np) {
        uint32_t b[4];
        ldmatrix_x4(b, k_s + swizzle(np * 16 + (lane & 7) + ((lane >> 4) << 3), kk * 2 + ((lane >> 3) & 1), C));
        mma_bf16(s[np * 2], qf[kk], b[0], b[1]);
        mma_bf16(s[np * 2 + 1], qf[kk], b[2], b[3]);
      }
    }

    // Online softmax over the tile, rows grp (h=0) and grp+8 (h=1) of the warp's 16.
    const int key0 = j * kFlashKeys;
    float alpha[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float mx = -INFINITY;
#pragma unroll
      for (int nt = 0; nt < kFlashKeys / 8; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          int key = key0 + nt * 8 + tig * 2 + e;
          float v = key < a.lk ? s[nt][h * 2 + e] * a.scale_log2 : -INFINITY;
          s[nt][h * 2 + e] = v;
          mx = fmaxf(mx, v);
        }
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      float m_new = fmaxf(m_run[h], mx);  // finite: every tile holds at least one real key
      alpha[h] = exp2f(m_run[h] - m_new);
      m_run[h] = m_new;
      float sum = 0.0f;
#pragma unroll
      for (int nt = 0; nt < kFlashKeys / 8; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float p = exp2f(s[nt][h * 2 + e] - m_new);
          s[nt][h * 2 + e] = p;
          sum += p;
        }
      l_run[h] = l_run[h] * alpha[h] + sum;  // per-thread partial; the quad is summed once at the end
    }
#pragma unroll
    for (int i = 0; i < HD / 8; ++i) {
      o[i][0] *= alpha[0];
      o[i][1] *= alpha[0];
      o[i][2] *= alpha[1];
      o[i][3] *= alpha[1];
    }

    // O += P V: the S accumulators of two adjacent key octets form the A fragment of one k16 step.
#pragma unroll
    for (int ks = 0; ks < kFlashKeys / 16; ++ks) {
      uint32_t pa[4];
      pa[0] = pack_bf16(s[2 * ks][0], s[2 * ks][1]);
      pa[1] = pack_bf16(s[2 * ks][2], s[2 * ks][3]);
      pa[2] = pack_bf16(s[2 * ks + 1][0], s[2 * ks + 1][1]);
      pa[3] = pack_bf16(s[2 * ks + 1][2], s[2 * ks + 1][3]);
#pragma unroll
      for (int nc = 0; nc < HD / 8; nc += 2) {
        uint32_t b[4];
        ldmatrix_x4_trans(b, v_s + swizzle(ks * 16 + (lane & 7) + (((lane >> 3) & 1) << 3), nc + (lane >> 4), C));
        mma_bf16(o[nc], pa, b[0], b[1]);
        mma_bf16(o[nc + 1], pa, b[2], b[3]);
      }
    }
    __syncthreads();  // everyone is done with this stage before the next iteration refills it
  }
  cp_async_wait<0>();

#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float l = l_run[h];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    float inv = 1.0f / l;
    int row = q0 + warp * 16 + grp + h * 8;
    if (row >= a.lq) continue;
    float* dst = a.out + int64_t(row) * a.ld + head * HD;
#pragma unroll
    for (int nt = 0; nt < HD / 8; ++nt) {
      float2 val = make_float2(o[nt][h * 2] * inv, o[nt][h * 2 + 1] * inv);
      *reinterpret_cast<float2*>(dst + nt * 8 + tig * 2) = val;
    }
  }
}

// fp32 reference-quality kernel: a block of 8 warps, one query row per warp, K/V tiles of 32 keys in shared
// memory. Lane j scores key j of the tile (K rows padded by one float so the 32 lanes hit 32 banks), then each
// lane accumulates its own output features.
constexpr int kSimpleWarps = 8, kSimpleKeys = 32, kSimpleMaxHd = 256;

__global__ void __launch_bounds__(kSimpleWarps * 32)
    attention_f32_kernel(const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v,
                         float* __restrict__ out, int lq, int lk, int hd, int64_t ld, float scale) {
  extern __shared__ float sm[];
  float* ks = sm;                              // [32][hd + 1]
  float* vs = ks + kSimpleKeys * (hd + 1);     // [32][hd]
  float* qs = vs + kSimpleKeys * hd;           // [warps][hd]
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, head = blockIdx.y;
  const int row = blockIdx.x * kSimpleWarps + warp;
  const bool live = row < lq;
  float* qrow = qs + warp * hd;
  for (int d = lane; d < hd; d += 32) qrow[d] = live ? q[int64_t(row) * ld + int64_t(head) * hd + d] : 0.0f;
  constexpr int kPer = kSimpleMaxHd / 32;
  float acc[kPer];
#pragma unroll
  for (int i = 0; i < kPer; ++i) acc[i] = 0.0f;
  float m = -INFINITY, l = 0.0f;
  for (int t0 = 0; t0 < lk; t0 += kSimpleKeys) {
    __syncthreads();
    for (int i = threadIdx.x; i < kSimpleKeys * hd; i += blockDim.x) {
      int r = i / hd, d = i % hd, key = t0 + r;
      bool ok = key < lk;
      int64_t src = int64_t(key) * ld + int64_t(head) * hd + d;
      ks[r * (hd + 1) + d] = ok ? k[src] : 0.0f;
      vs[r * hd + d] = ok ? v[src] : 0.0f;
    }
    __syncthreads();
    float sc = -INFINITY;
    if (t0 + lane < lk) {
      float dot = 0.0f;
      const float* kr = ks + lane * (hd + 1);
      for (int d = 0; d < hd; ++d) dot += qrow[d] * kr[d];
      sc = dot * scale;
    }
    float mx = sc;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    float m_new = fmaxf(m, mx);
    float alpha = expf(m - m_new);
    float p = t0 + lane < lk ? expf(sc - m_new) : 0.0f;
    float psum = p;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) psum += __shfl_xor_sync(0xffffffffu, psum, o);
    l = l * alpha + psum;
    m = m_new;
#pragma unroll
    for (int i = 0; i < kPer; ++i) acc[i] *= alpha;
    for (int j = 0; j < kSimpleKeys; ++j) {
      float pj = __shfl_sync(0xffffffffu, p, j);
      const float* vr = vs + j * hd;
#pragma unroll
      for (int i = 0; i < kPer; ++i) {
        int d = lane + 32 * i;
        if (d < hd) acc[i] += pj * vr[d];
      }
    }
  }
  if (!live) return;
  float inv = 1.0f / l;
#pragma unroll
  for (int i = 0; i < kPer; ++i) {
    int d = lane + 32 * i;
    if (d < hd) out[int64_t(row) * ld + int64_t(head) * hd + d] = acc[i] * inv;
  }
}

template <int HD, int W>
void launch_flash(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, float scale, Tensor& out) {
  constexpr int kFlashRows = 16 * W, kFlashThreads = 32 * W;
  int64_t lq = q.dim(0), lk = k.dim(0);
  Tensor qb = empty(q.shape(), DType::BF16), kb = empty(k.shape(), DType::BF16), vb = empty(v.shape(), DType::BF16);
  convert(q, qb);
  convert(k, kb);
  convert(v, vb);
  static std::once_flag once;
  std::call_once(once, [] {
    QDIT_CUDA_CHECK(cudaFuncSetAttribute(flash_bf16_kernel<HD, W>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         flash_smem_bytes<HD, W>()));
  });
  FlashArgs a{static_cast<const __nv_bfloat16*>(qb.raw()), static_cast<const __nv_bfloat16*>(kb.raw()),
              static_cast<const __nv_bfloat16*>(vb.raw()), out.data<float>(), static_cast<int>(lq),
              static_cast<int>(lk), heads * HD, scale * 1.4426950408889634f};
  dim3 grid(static_cast<unsigned>((lq + kFlashRows - 1) / kFlashRows), static_cast<unsigned>(heads));
  flash_bf16_kernel<HD, W><<<grid, kFlashThreads, flash_smem_bytes<HD, W>(), stream()>>>(a);
  QDIT_CUDA_LAUNCH_CHECK("flash_bf16_kernel");
}

void launch_f32(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, float scale, Tensor& out) {
  int64_t lq = q.dim(0), lk = k.dim(0), hd = q.dim(1) / heads;
  size_t smem = (kSimpleKeys * (hd + 1) + kSimpleKeys * hd + kSimpleWarps * hd) * sizeof(float);
  static std::once_flag once;
  std::call_once(once, [] {
    size_t most = (kSimpleKeys * (kSimpleMaxHd + 1) + kSimpleKeys * kSimpleMaxHd + kSimpleWarps * kSimpleMaxHd) *
                  sizeof(float);
    QDIT_CUDA_CHECK(
        cudaFuncSetAttribute(attention_f32_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(most)));
  });
  dim3 grid(static_cast<unsigned>((lq + kSimpleWarps - 1) / kSimpleWarps), static_cast<unsigned>(heads));
  attention_f32_kernel<<<grid, kSimpleWarps * 32, smem, stream()>>>(q.data<float>(), k.data<float>(),
                                                                     v.data<float>(), out.data<float>(), int(lq),
                                                                     int(lk), int(hd), heads * hd, scale);
  QDIT_CUDA_LAUNCH_CHECK("attention_f32_kernel");
}

// Checks the arguments every attention kernel shares; returns head_dim. BF16 tensors only for cuDNN's SDPA
// (bf16_ok), which reads and writes bf16 itself; our kernels take F32.
int64_t check_attention_args(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, Tensor& out,
                             bool bf16_ok = false) {
  const char* op = "attention (CUDA)";
  const Tensor* tensors[4] = {&q, &k, &v, &out};
  const char* names[4] = {"q", "k", "v", "out"};
  for (int i = 0; i < 4; ++i) {
    require_device(*tensors[i], op, names[i]);
    if (tensors[i]->dtype() != DType::F32 && !(bf16_ok && tensors[i]->dtype() == DType::BF16))
      fail_internal(std::string(op) + ": '" + names[i] + "' has the wrong dtype for this kernel",
                    err_ctx(bf16_ok ? "F32 or BF16" : "F32", std::string(dtype_name(tensors[i]->dtype()))));
    require_2d(*tensors[i], op, names[i]);
  }
  int64_t lq = q.dim(0), width = q.dim(1), lk = k.dim(0);
  require_shape(k, {lk, width}, op, "k");
  require_shape(v, {lk, width}, op, "v");
  require_shape(out, {lq, width}, op, "out");
  if (heads <= 0 || width % heads != 0)
    fail_internal("attention (CUDA): features do not split into heads",
                  err_ctx("features divisible by heads", std::to_string(width) + " features, " + std::to_string(heads) + " heads"));
  int64_t hd = width / heads;
  if (hd > kSimpleMaxHd)
    fail_internal("attention (CUDA): head_dim too large",
                  err_ctx("head_dim <= " + std::to_string(kSimpleMaxHd), std::to_string(hd)));
  if (lk == 0)
    fail_internal("attention (CUDA): no keys", err_ctx("at least one key", "0"));
  if (lq > INT32_MAX || lk > INT32_MAX || heads > 65535)
    fail_internal("attention (CUDA): problem too large for one launch", err_ctx("", shape_str(q.shape())));
  return hd;
}

// cuDNN's SDPA on bf16 q, k, v: BF16 tensors as they are, F32 ones through bf16 copies; its bf16 output goes
// straight into a BF16 `out` or is widened into an F32 one.
void run_cudnn_sdpa(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, float scale, Tensor& out) {
  int64_t lq = q.dim(0), lk = k.dim(0), hd = q.dim(1) / heads;
  auto as_bf16 = [](const Tensor& t) {
    if (t.dtype() == DType::BF16) return t;
    Tensor b = empty(t.shape(), DType::BF16);
    convert(t, b);
    return b;
  };
  const Tensor qb = as_bf16(q), kb = as_bf16(k), vb = as_bf16(v);
  Tensor ob = out.dtype() == DType::BF16 ? out : empty(out.shape(), DType::BF16);
  cudnn_sdpa_bf16(qb.raw(), kb.raw(), vb.raw(), ob.raw(), lq, lk, heads, hd, scale);
  if (ob.raw() != out.raw()) convert(ob, out);
}

}  // namespace

const char* attention_kernel_name(AttentionKernel k) {
  switch (k) {
    case AttentionKernel::CudnnSdpa: return "cudnn_sdpa";
    case AttentionKernel::Own: return "own";
    case AttentionKernel::Int8QkSm90: return "int8_qk_sm90";
    case AttentionKernel::Int8QkE4m3PvSm90: return "int8_qk_e4m3pv_sm90";
  }
  return "?";
}

bool cudnn_sdpa_supports(int64_t head_dim) { return head_dim > 0 && head_dim % 8 == 0 && head_dim <= 128; }

AttentionKernel attention_kernel_for(Precision p, int64_t head_dim) {
  // Read on every call (a getenv is nothing next to an attention), so a benchmark or test can switch kernels.
  const char* env = std::getenv("QDIT_ATTENTION");
  bool own = false;
  if (env && *env) {
    if (std::strcmp(env, "own") == 0)
      own = true;
    else if (std::strcmp(env, "cudnn") != 0)
      fail_usage("QDIT_ATTENTION names no attention kernel", err_ctx("cudnn or own", env));
  }
  // Only where our bf16 flash kernel exists too (64, 128): the two kernels then share one numerics contract.
  if (own || p != Precision::BF16 || (head_dim != 64 && head_dim != 128)) return AttentionKernel::Own;
  return AttentionKernel::CudnnSdpa;
}

DType attention_io_dtype(Precision p, int64_t head_dim) {
  return attention_kernel_for(p, head_dim) == AttentionKernel::CudnnSdpa ? DType::BF16 : DType::F32;
}

void attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, float scale, Tensor& out,
               Precision p, AttentionQk qk) {
  int64_t hd = check_attention_args(q, k, v, heads, out, /*bf16_ok=*/true);
  const AttentionKernel kernel = qk == AttentionQk::Int8         ? AttentionKernel::Int8QkSm90
                                 : qk == AttentionQk::Int8E4m3Pv ? AttentionKernel::Int8QkE4m3PvSm90
                                                                 : attention_kernel_for(p, hd);
  attention_with(q, k, v, heads, scale, out, p, kernel, kDefaultFlashWarps);
}

void attention_with(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, float scale, Tensor& out,
                    Precision p, AttentionKernel kernel, int flash_warps) {
  if (kernel == AttentionKernel::Own) return attention_variant(q, k, v, heads, scale, out, p, flash_warps);
  if (kernel == AttentionKernel::Int8QkSm90 || kernel == AttentionKernel::Int8QkE4m3PvSm90) {
    if (p != Precision::BF16)
      fail_internal("attention (CUDA): the int8-QK kernel asked for at FP32 precision",
                    err_ctx("BF16 precision (16-bit or e4m3 P.V)", "FP32"));
    return attention_int8_qk(q, k, v, heads, scale, out,
                             kernel == AttentionKernel::Int8QkE4m3PvSm90 ? PvFormat::E4M3 : PvFormat::F16);
  }
  int64_t hd = check_attention_args(q, k, v, heads, out, /*bf16_ok=*/true);
  if (p != Precision::BF16 || !cudnn_sdpa_supports(hd))
    fail_internal("attention (CUDA): cuDNN SDPA asked for a shape it does not take",
                  err_ctx("BF16 precision and head_dim % 8 == 0, <= 128",
                          std::string(p == Precision::BF16 ? "BF16" : "FP32") + ", head_dim " + std::to_string(hd)));
  if (q.dim(0) == 0) return;
  ArenaScope scratch;
  run_cudnn_sdpa(q, k, v, heads, scale, out);
}

void attention_int8_qk(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, float scale, Tensor& out,
                       PvFormat pv) {
  const int64_t hd = check_attention_args(q, k, v, heads, out, /*bf16_ok=*/true);
  if (hd != 128)
    fail_internal("attention (CUDA): the int8-QK kernel takes head_dim 128 only",
                  err_ctx("128", std::to_string(hd)));
  if (q.dim(0) == 0) return;
  ArenaScope scratch;
  const Int8QkOperands ops = prepare_int8_qk_operands(q, k, v, heads, pv);
  attention_int8_qk_sm90(ops, scale, out);
}

void attention_variant(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, float scale, Tensor& out,
                       Precision p, int flash_warps) {
  int64_t hd = check_attention_args(q, k, v, heads, out);
  if (q.dim(0) == 0) return;
  ArenaScope scratch;
  if (p == Precision::BF16 && hd == 128)
    return flash_warps == 8 ? launch_flash<128, 8>(q, k, v, heads, scale, out)
                            : launch_flash<128, 4>(q, k, v, heads, scale, out);
  if (p == Precision::BF16 && hd == 64)
    return flash_warps == 8 ? launch_flash<64, 8>(q, k, v, heads, scale, out)
                            : launch_flash<64, 4>(q, k, v, heads, scale, out);
  if (p == Precision::BF16) {
    Tensor qr = empty(q.shape(), DType::F32), kr = empty(k.shape(), DType::F32), vr = empty(v.shape(), DType::F32);
    round_to_bf16(q, qr);
    round_to_bf16(k, kr);
    round_to_bf16(v, vr);
    return launch_f32(qr, kr, vr, heads, scale, out);
  }
  launch_f32(q, k, v, heads, scale, out);
}

}  // namespace qdit::ops::cuda
