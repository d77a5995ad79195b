// Multi-head attention, flash style: for each (head, tile of 60 queries) the keys are visited in tiles of 64 with
// an online softmax (running max m, running sum l, output rescaled by exp(m_old - m_new)), so no Lq x Lk matrix
// exists; memory is the packed K^T and V (O(Lk * D)) plus small per-thread tiles. Tasks (head x query tile) are
// spread over the threads.
//
// Per query row and key tile: s_j = (q . k_j) * scale (dot product in fp32, then the scale), m' = max(m, max_j s_j),
// p_j = exp(s_j - m'), l' = l * exp(m - m') + sum_j p_j, o' = o * exp(m - m') + sum_j p_j v_j; at the end
// out = o * (1 / l). BF16 precision rounds q, k and v to bf16 when they are packed; the rest stays fp32.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "qdit/core/half.h"
#include "qdit/core/parallel.h"
#include "qdit/ops/cpu/cpu_features.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/cpu/vec_math.h"

namespace qdit::ops::cpu {

namespace {

constexpr int64_t kQueryTile = 60;  // a multiple of the 6-row register blocks of both microkernels
constexpr int64_t kKeyTile = 64;  // four 16-lane vectors of scores
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct Shapes {
  int64_t lq, lk, heads, hd;
  int64_t width;   // heads * hd, the row length of q, k, v, out
  int64_t hd_pad;  // hd rounded up to 16: V and the output accumulators are whole vectors
  int64_t lk_pad;  // lk rounded up to the key tile: K^T rows are whole tiles
};

float load_value(const float* p, bool bf16) { return bf16 ? round_to_bf16(*p) : *p; }

// K^T in key tiles: for head h and key tile jt, a contiguous [hd][64] block holding k[64 jt + jj, h*hd + d] at
// d * 64 + jj (zero past lk). Contiguous tiles matter: rows of one long [hd][lk] matrix are lk * 4 bytes apart,
// and at lk = 4096 every row of a tile falls into the same L1 sets.
// vp[h][j][d] = v[j, h*hd + d] (zero for d >= hd).
int64_t key_tile_offset(const Shapes& s, int64_t h, int64_t j0) {
  return (h * (s.lk_pad / kKeyTile) + j0 / kKeyTile) * s.hd * kKeyTile;
}

void pack_keys_values(const Tensor& k, const Tensor& v, const Shapes& s, bool bf16, std::vector<float>& kt,
                      std::vector<float>& vp) {
  kt.assign(static_cast<size_t>(s.heads * s.hd * s.lk_pad), 0.0f);
  vp.assign(static_cast<size_t>(s.heads * s.lk * s.hd_pad), 0.0f);
  const float* kp = k.data<float>();
  const float* vv = v.data<float>();
  const int64_t tiles = s.lk_pad / kKeyTile;
  parallel_for(s.heads * tiles, 1, [&](int64_t b, int64_t e) {
    for (int64_t ht = b; ht < e; ++ht) {
      const int64_t h = ht / tiles, j0 = (ht % tiles) * kKeyTile;
      float* out = kt.data() + key_tile_offset(s, h, j0);
      for (int64_t j = j0; j < std::min(s.lk, j0 + kKeyTile); ++j)
        for (int64_t d = 0; d < s.hd; ++d) out[d * kKeyTile + (j - j0)] = load_value(kp + j * s.width + h * s.hd + d, bf16);
    }
  });
  parallel_for(s.heads * s.lk, 16, [&](int64_t b, int64_t e) {
    for (int64_t hj = b; hj < e; ++hj) {
      const int64_t h = hj / s.lk, j = hj % s.lk;
      float* out = vp.data() + hj * s.hd_pad;
      for (int64_t d = 0; d < s.hd; ++d) out[d] = load_value(vv + j * s.width + h * s.hd + d, bf16);
    }
  });
}

// ---- AVX-512 path -----------------------------------------------------------------------------------------

// scores[r][0..64) = (q[r] . key tile) * scale for MR query rows; kt is one [hd][64] key tile.
template <int MR>
QDIT_AVX512 void scores_avx512(const float* q, int64_t hd, const float* kt, float scale, float* scores) {
  __m512 acc[MR][4];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_setzero_ps();
  for (int64_t d = 0; d < hd; ++d) {
    const float* krow = kt + d * kKeyTile;
    __m512 kv[4];
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) kv[c] = _mm512_loadu_ps(krow + 16 * c);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512 qv = _mm512_set1_ps(q[r * hd + d]);
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_fmadd_ps(qv, kv[c], acc[r][c]);
    }
  }
  const __m512 vs = _mm512_set1_ps(scale);
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) _mm512_storeu_ps(scores + r * kKeyTile + 16 * c, _mm512_mul_ps(acc[r][c], vs));
}

// o[r][:] += sum_{j < kv} p[r][j] * vp[j][:] for MR rows, NV vectors of 16 output features.
template <int MR, int NV>
QDIT_AVX512 void accumulate_avx512(const float* p, int64_t kv, const float* vp, int64_t hd_pad, float* o) {
  __m512 acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < NV; ++c) acc[r][c] = _mm512_loadu_ps(o + r * hd_pad + 16 * c);
  // Registers: MR * NV accumulators + MR broadcast probabilities + one value vector (<= 31 of 32 at 6 x 4).
  for (int64_t j = 0; j < kv; ++j) {
    __m512 pv[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) pv[r] = _mm512_set1_ps(p[r * kKeyTile + j]);
#pragma GCC unroll 8
    for (int c = 0; c < NV; ++c) {
      const __m512 vv = _mm512_loadu_ps(vp + j * hd_pad + 16 * c);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) acc[r][c] = _mm512_fmadd_ps(pv[r], vv, acc[r][c]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < NV; ++c) _mm512_storeu_ps(o + r * hd_pad + 16 * c, acc[r][c]);
}

using AccumulateFn = void (*)(const float*, int64_t, const float*, int64_t, float*);

// The widest row block that keeps MR * NV accumulators within 24 registers, and the one-row remainder kernel.
template <int NV>
constexpr int rows_for() {
  return std::min(6, 24 / NV);
}
struct AccumulateKernels {
  int rows;
  AccumulateFn block;
  AccumulateFn single;
};
template <int NV>
constexpr AccumulateKernels kernels_for() {
  return {rows_for<NV>(), accumulate_avx512<rows_for<NV>(), NV>, accumulate_avx512<1, NV>};
}
AccumulateKernels accumulate_kernels(int64_t nv) {
  switch (nv) {
    case 1: return kernels_for<1>();
    case 2: return kernels_for<2>();
    case 3: return kernels_for<3>();
    default: return kernels_for<4>();
  }
}

// Online-softmax update of one row for a key tile: scores -> probabilities in place; returns the factor the
// row's accumulated output must be multiplied by before this tile's contribution is added.
QDIT_AVX512 float softmax_tile_avx512(float* s, int64_t kv, float& m, float& l) {
  __m512 mx = _mm512_set1_ps(kNegInf);
  for (int64_t j = 0; j < kv; j += 16)
    mx = _mm512_mask_max_ps(mx, vec::tail_mask(kv - j), mx, _mm512_loadu_ps(s + j));
  const float m_new = std::max(m, _mm512_reduce_max_ps(mx));
  const float corr = m == kNegInf ? 0.0f : std::exp(m - m_new);
  const __m512 vm = _mm512_set1_ps(m_new);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < kv; j += 16) {
    const __mmask16 msk = vec::tail_mask(kv - j);
    const __m512 p = _mm512_maskz_mov_ps(msk, vec::exp(_mm512_sub_ps(_mm512_loadu_ps(s + j), vm)));
    _mm512_storeu_ps(s + j, p);
    sum = _mm512_add_ps(sum, p);
  }
  l = l * corr + _mm512_reduce_add_ps(sum);
  m = m_new;
  return corr;
}

QDIT_AVX512 void scale_row_avx512(float* o, int64_t hd_pad, float f) {
  const __m512 vf = _mm512_set1_ps(f);
  for (int64_t i = 0; i < hd_pad; i += 16) _mm512_storeu_ps(o + i, _mm512_mul_ps(_mm512_loadu_ps(o + i), vf));
}

struct Scratch {
  std::vector<float> q, scores, o, m, l;
  explicit Scratch(const Shapes& s)
      : q(kQueryTile * s.hd), scores(kQueryTile * kKeyTile), o(kQueryTile * s.hd_pad), m(kQueryTile), l(kQueryTile) {}
};

// One (head, query tile) task.
QDIT_AVX512 void attend_tile_avx512(const float* qsrc, int64_t h, int64_t q0, int64_t rows, const Shapes& s,
                                    const std::vector<float>& kt, const std::vector<float>& vp, float scale,
                                    bool bf16, Scratch& w, float* out) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t d = 0; d < s.hd; ++d) w.q[r * s.hd + d] = load_value(qsrc + (q0 + r) * s.width + h * s.hd + d, bf16);
  std::fill(w.o.begin(), w.o.end(), 0.0f);
  std::fill(w.m.begin(), w.m.end(), kNegInf);
  std::fill(w.l.begin(), w.l.end(), 0.0f);
  const float* vph = vp.data() + h * s.lk * s.hd_pad;
  for (int64_t j0 = 0; j0 < s.lk; j0 += kKeyTile) {
    const int64_t kv = std::min(kKeyTile, s.lk - j0);
    const float* tile = kt.data() + key_tile_offset(s, h, j0);
    int64_t r = 0;
    for (; r + 6 <= rows; r += 6)
      scores_avx512<6>(w.q.data() + r * s.hd, s.hd, tile, scale, w.scores.data() + r * kKeyTile);
    for (; r < rows; ++r)
      scores_avx512<1>(w.q.data() + r * s.hd, s.hd, tile, scale, w.scores.data() + r * kKeyTile);
    for (r = 0; r < rows; ++r) {
      const float corr = softmax_tile_avx512(w.scores.data() + r * kKeyTile, kv, w.m[r], w.l[r]);
      if (corr != 1.0f) scale_row_avx512(w.o.data() + r * s.hd_pad, s.hd_pad, corr);
    }
    // Output features in chunks of 4 vectors: 6 rows x 4 vectors need 4 value loads and 6 broadcasts per 24
    // FMAs, where 3 rows x 8 vectors would need 8 + 3 (and keep the load ports busier than the FMA units).
    for (int64_t c0 = 0; c0 < s.hd_pad; c0 += 64) {
      const AccumulateKernels acc = accumulate_kernels(std::min<int64_t>(4, (s.hd_pad - c0) / 16));
      const float* vtile = vph + j0 * s.hd_pad + c0;
      for (r = 0; r + acc.rows <= rows; r += acc.rows)
        acc.block(w.scores.data() + r * kKeyTile, kv, vtile, s.hd_pad, w.o.data() + r * s.hd_pad + c0);
      for (; r < rows; ++r)
        acc.single(w.scores.data() + r * kKeyTile, kv, vtile, s.hd_pad, w.o.data() + r * s.hd_pad + c0);
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float inv = 1.0f / w.l[r];
    float* dst = out + (q0 + r) * s.width + h * s.hd;
    for (int64_t d = 0; d < s.hd; ++d) dst[d] = w.o[r * s.hd_pad + d] * inv;
  }
}

// ---- portable path ----------------------------------------------------------------------------------------

void attend_row_scalar(const float* qrow, int64_t h, const Shapes& s, const std::vector<float>& kt,
                       const std::vector<float>& vp, float scale, bool bf16, std::vector<float>& qv,
                       std::vector<float>& o, float* dst) {
  for (int64_t d = 0; d < s.hd; ++d) qv[d] = load_value(qrow + d, bf16);
  std::fill(o.begin(), o.end(), 0.0f);
  float m = kNegInf, l = 0.0f;
  const float* vph = vp.data() + h * s.lk * s.hd_pad;
  for (int64_t j = 0; j < s.lk; ++j) {
    const float* tile = kt.data() + key_tile_offset(s, h, j - j % kKeyTile);
    float dot = 0.0f;
    for (int64_t d = 0; d < s.hd; ++d) dot += qv[d] * tile[d * kKeyTile + j % kKeyTile];
    const float sc = dot * scale;
    const float m_new = std::max(m, sc);
    const float corr = m == kNegInf ? 0.0f : std::exp(m - m_new);
    const float p = std::exp(sc - m_new);
    l = l * corr + p;
    for (int64_t d = 0; d < s.hd; ++d) o[d] = o[d] * corr + p * vph[j * s.hd_pad + d];
    m = m_new;
  }
  for (int64_t d = 0; d < s.hd; ++d) dst[d] = o[d] * (1.0f / l);
}

}  // namespace

void attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, float scale, Tensor& out,
               Precision p) {
  Shapes s;
  s.lq = q.dim(0);
  s.lk = k.dim(0);
  s.heads = heads;
  s.width = q.dim(1);
  s.hd = s.width / heads;
  s.hd_pad = (s.hd + 15) / 16 * 16;
  s.lk_pad = (s.lk + kKeyTile - 1) / kKeyTile * kKeyTile;
  const bool bf16 = p == Precision::BF16;
  std::vector<float> kt, vp;
  pack_keys_values(k, v, s, bf16, kt, vp);
  const float* qp = q.data<float>();
  float* op = out.data<float>();
  if (has_avx512()) {
    const int64_t q_tiles = (s.lq + kQueryTile - 1) / kQueryTile;
    parallel_for(heads * q_tiles, 1, [&](int64_t b, int64_t e) {
      Scratch w(s);
      for (int64_t task = b; task < e; ++task) {
        const int64_t h = task / q_tiles, q0 = (task % q_tiles) * kQueryTile;
        attend_tile_avx512(qp, h, q0, std::min(kQueryTile, s.lq - q0), s, kt, vp, scale, bf16, w, op);
      }
    });
    return;
  }
  parallel_for(heads * s.lq, 1, [&](int64_t b, int64_t e) {
    std::vector<float> qv(s.hd), o(s.hd);
    for (int64_t task = b; task < e; ++task) {
      const int64_t h = task / s.lq, r = task % s.lq;
      attend_row_scalar(qp + r * s.width + h * s.hd, h, s, kt, vp, scale, bf16, qv, o,
                        op + r * s.width + h * s.hd);
    }
  });
}

}  // namespace qdit::ops::cpu
