// The CPU side of every op of ops.h, same signatures, called by the dispatchers ops/<op>.cpp once the
// arguments are validated (so these functions assume well-formed F32 CPU tensors of matching shapes).
#pragma once
#include "qdit/ops/ops.h"

namespace qdit::ops::cpu {

Tensor empty(Shape shape, DType dtype);
void copy(const Tensor& src, Tensor& dst);

void prepare_linear(const QuantLinear& w, Precision p);
void release_prepared_linears();
void linear(const Tensor& x, const QuantLinear& w, Tensor& y, Precision p);

void layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Modulation* mod, float eps,
               Tensor& out);
void rmsnorm(Tensor& x, const Tensor& w, float eps);
void rope(Tensor& x, int64_t heads, const Tensor& cos, const Tensor& sin);
void patchify(const Tensor& latent, int64_t pt, int64_t ph, int64_t pw, Tensor& out);
void unpatchify(const Tensor& tokens, int64_t f, int64_t h, int64_t w, int64_t pt, int64_t ph, int64_t pw,
                Tensor& out);
void expand_axis_table(const Tensor& axis_rows, int64_t f, int64_t h, int64_t w, int64_t split_h, int64_t split_w,
                       Tensor& out);
void rmsnorm_rope(Tensor& x, const Tensor& w, float eps, int64_t heads, const Tensor& cos, const Tensor& sin);
void attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, float scale, Tensor& out,
               Precision p);
void gelu_tanh(Tensor& x);
void gelu_erf(Tensor& x);
void silu(Tensor& x);
void residual_add(Tensor& x, const Tensor& y, const Tensor& gate);

}  // namespace qdit::ops::cpu
