// The last step of the register-staged row kernels (one block per row, or a row group of row_group.cuh, each
// thread holding up to V float4 of the row): write the finished row in the form the next linear layer consumes
// (ops.h LinearInput). Per-token quantization needs the row's absmax, hence the whole row on chip before the first byte is written.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "qdit/ops/cuda/quantize.cuh"
#include "qdit/ops/cuda/reduce.cuh"
#include "qdit/ops/cuda/row_group.cuh"
#include "qdit/ops/ops.h"

namespace qdit::ops::cuda {

// float4 per thread a staged row kernel keeps in registers; rows wider than 4 * 1024 * kStagedV floats take
// the unstaged kernels.
constexpr int kStagedV = 8;

// Threads of a staged row kernel for a row of d4 float4 (the smallest power of two >= 128 holding it), or 0
// when the row does not fit in registers.
inline int staged_row_threads(int64_t d4) {
  for (int t = 128; t <= 1024; t *= 2)
    if (d4 <= int64_t(t) * kStagedV) return t;
  return 0;
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

struct RowSink {
  LinearInputForm form = LinearInputForm::F32;
  void* out = nullptr;  // float*, __nv_bfloat16* or int8_t* [T, K]
  float* token_scale = nullptr;  // [T] (Int8PerToken)
  float qmin = 0, qmax = 0, scale = 0, offset = 0;
  bool vector_store = false;  // the row starts are aligned for 4-element stores (K % 4 == 0 is required anyway)
};

inline RowSink row_sink(const LinearInput& in) {
  RowSink s;
  s.form = in.spec.form;
  s.out = in.values.raw();
  s.token_scale = in.token_scale.defined() ? in.token_scale.data<float>() : nullptr;
  s.qmin = static_cast<float>(in.spec.qmin);
  s.qmax = static_cast<float>(in.spec.qmax);
  s.scale = in.spec.input_scale;
  s.offset = in.spec.input_offset;
  s.vector_store = aligned16(s.out);
  return s;
}

inline RowSink row_sink_f32(float* out) {
  RowSink s;
  s.out = out;
  s.vector_store = aligned16(out);
  return s;
}

// Writes the 4 finished values y of elements e .. e+3 in the sink's form (scale, inv: the row's per-token
// step and its reciprocal, Int8PerToken only).
__device__ __forceinline__ void store4(const RowSink& s, const float4 y, int64_t e, float scale, float inv) {
  switch (s.form) {
    case LinearInputForm::F32: {
      float* o = static_cast<float*>(s.out) + e;
      if (s.vector_store) {
        *reinterpret_cast<float4*>(o) = y;
      } else {
        o[0] = y.x, o[1] = y.y, o[2] = y.z, o[3] = y.w;
      }
      break;
    }
    case LinearInputForm::BF16: {
      __nv_bfloat16* o = static_cast<__nv_bfloat16*>(s.out) + e;
      __nv_bfloat16 b0 = __float2bfloat16_rn(y.x), b1 = __float2bfloat16_rn(y.y), b2 = __float2bfloat16_rn(y.z),
                    b3 = __float2bfloat16_rn(y.w);
      if (s.vector_store) {
        reinterpret_cast<__nv_bfloat162*>(o)[0] = __halves2bfloat162(b0, b1);
        reinterpret_cast<__nv_bfloat162*>(o)[1] = __halves2bfloat162(b2, b3);
      } else {
        o[0] = b0, o[1] = b1, o[2] = b2, o[3] = b3;
      }
      break;
    }
    case LinearInputForm::Int8PerToken:
    case LinearInputForm::Int8Static: {
      int8_t q[4];
      const float c[4] = {y.x, y.y, y.z, y.w};
#pragma unroll
      for (int u = 0; u < 4; ++u)
        q[u] = s.form == LinearInputForm::Int8PerToken ? quantize_by_reciprocal(c[u], scale, inv, s.qmin, s.qmax)
                                                       : quantize_static_value(c[u], s.scale, s.offset);
      int8_t* o = static_cast<int8_t*>(s.out) + e;
      if (s.vector_store) {
        *reinterpret_cast<char4*>(o) = make_char4(q[0], q[1], q[2], q[3]);
      } else {
        o[0] = q[0], o[1] = q[1], o[2] = q[2], o[3] = q[3];
      }
      break;
    }
  }
}

// Writes row t (K floats, K % 4 == 0) held as v[j] = elements 4 (threadIdx.x + j blockDim.x) .. +3.
template <int V>
__device__ __forceinline__ void sink_row(const RowSink& s, const float4 (&v)[V], int64_t t, int64_t k,
                                         float* scratch) {
  const int64_t k4 = k / 4;
  float scale = 0.0f, inv = 0.0f;
  if (s.form == LinearInputForm::Int8PerToken) {
    float m = 0.0f;
#pragma unroll
    for (int j = 0; j < V; ++j) {
      if (threadIdx.x + int64_t(j) * blockDim.x < k4)
        m = fmaxf(m, fmaxf(fmaxf(fabsf(v[j].x), fabsf(v[j].y)), fmaxf(fabsf(v[j].z), fabsf(v[j].w))));
    }
    m = block_max(m, scratch);
    scale = per_token_scale(m, s.qmax);
    inv = __frcp_rn(scale);
    if (threadIdx.x == 0) s.token_scale[t] = scale;
  }
#pragma unroll
  for (int j = 0; j < V; ++j) {
    const int64_t i = threadIdx.x + int64_t(j) * blockDim.x;
    if (i < k4) store4(s, v[j], t * k + 4 * i, scale, inv);
  }
}

// The row-group form of sink_row (row_group.cuh layout: v[j] = elements 4 (g.lane + j g.stride) .. +3 of row
// g.row); spare groups (g.row >= tokens) take part in the absmax reduction and store nothing.
template <int V>
__device__ __forceinline__ void sink_group_row(const RowSink& s, const float4 (&v)[V], const RowGroup& g,
                                               int64_t tokens, int64_t k, float* max_slots) {
  const int k4 = static_cast<int>(k / 4);
  float scale = 0.0f, inv = 0.0f;
  if (s.form == LinearInputForm::Int8PerToken) {
    float m = 0.0f;  // padding slots are skipped: a normalised padding zero is not zero any more
#pragma unroll
    for (int j = 0; j < V; ++j) {
      if (g.lane + j * g.stride < k4)
        m = fmaxf(m, fmaxf(fmaxf(fabsf(v[j].x), fabsf(v[j].y)), fmaxf(fabsf(v[j].z), fabsf(v[j].w))));
    }
    m = group_max(m, g, max_slots);
    scale = per_token_scale(m, s.qmax);
    inv = __frcp_rn(scale);
    if (g.lane == 0 && g.row < tokens) s.token_scale[g.row] = scale;
  }
  if (g.row >= tokens) return;
#pragma unroll
  for (int j = 0; j < V; ++j) {
    const int i = g.lane + j * g.stride;
    if (i < k4) store4(s, v[j], g.row * k + 4 * int64_t(i), scale, inv);
  }
}

}  // namespace qdit::ops::cuda
