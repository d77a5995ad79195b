// The CUDA side of every op of ops.h, same signatures, called by the dispatchers ops/<op>.cpp under
// QDIT_WITH_CUDA when the tensors live on Device::CUDA. Kernels live in ops/cuda/*.cu.
#pragma once
#include "qdit/ops/ops.h"

namespace qdit::ops::cuda {

Tensor empty(Shape shape, DType dtype);  // device memory from the arena (see ops/cuda/arena.h)
Tensor empty_persistent(Shape shape, DType dtype);  // from the persistent pool (arena.h: persistent_alloc)
void copy(const Tensor& src, Tensor& dst);  // any of host->device, device->host, device->device

void linear(const Tensor& x, const QuantLinear& w, Tensor& y, Precision p);
void layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Modulation* mod, float eps,
               Tensor& out);
void rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor& out);
void rope(Tensor& x, int64_t heads, const Tensor& cos, const Tensor& sin);
void patchify(const Tensor& latent, int64_t pt, int64_t ph, int64_t pw, Tensor& out);
void unpatchify(const Tensor& tokens, int64_t f, int64_t h, int64_t w, int64_t pt, int64_t ph, int64_t pw,
                Tensor& out);
void expand_axis_table(const Tensor& axis_rows, int64_t f, int64_t h, int64_t w, int64_t split_h, int64_t split_w,
                       Tensor& out);
void rmsnorm_rope(const Tensor& x, const Tensor& w, float eps, int64_t heads, const Tensor& cos, const Tensor& sin,
                  Tensor& out);
// The LinearInput forms (ops.h); arguments already checked by the dispatchers.
void layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Modulation* mod, float eps,
               LinearInput& out);
void gelu_tanh(const Tensor& x, LinearInput& out);
void linear(const LinearInput& x, const QuantLinear& w, Tensor& y, Precision p);
void attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, float scale, Tensor& out,
               Precision p, AttentionQk qk = AttentionQk::AsPrecision);
DType attention_io_dtype(Precision p, int64_t head_dim);
void gelu_tanh(Tensor& x);
void gelu_erf(Tensor& x);
void silu(Tensor& x);
void residual_add(Tensor& x, const Tensor& y, const Tensor& gate);

// True when a CUDA device can be used by this process (driver present, at least one device). Never throws.
bool device_available();

}  // namespace qdit::ops::cuda
