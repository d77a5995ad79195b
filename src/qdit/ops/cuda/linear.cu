// ops::linear on the GPU: one path per scheme, all ending in either the cuBLASLt float GEMM or the int8
// tensor-core GEMM with its fused dequantizing epilogue. Temporaries (quantized activations, converted weights)
// come from the arena and are released when the call returns; later work on the stream may reuse those bytes
// only after this call's kernels, because everything runs on one stream.
#include <cuda_bf16.h>

#include "qdit/ops/cuda/arena.h"
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/internal.h"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace {

__global__ void dequant_w8a16_kernel(const int8_t* __restrict__ wq, const float* __restrict__ s,
                                     const float* __restrict__ z, int64_t k, int64_t total, float* out32,
                                     __nv_bfloat16* out16) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t n = i / k;
    float v = static_cast<float>(wq[i]);
    if (z) v = __fsub_rn(v, z[n]);
    v = __fmul_rn(v, s[n]);
    if (out32)
      out32[i] = v;
    else
      out16[i] = __float2bfloat16_rn(v);
  }
}

void require_vector(const Tensor& t, int64_t n, DType d, const char* arg, SchemeId scheme) {
  const char* op = "linear (CUDA)";
  if (!t.defined())
    fail_internal(std::string(op) + ": layer of scheme " + scheme_name(scheme) + " lacks '" + arg + "'",
                  err_ctx(std::string(dtype_name(d)) + " [" + std::to_string(n) + "]", "undefined", scheme_name(scheme)));
  require_device(t, op, arg);
  require_dtype(t, d, op, arg);
  require_shape(t, {n}, op, arg);
}

// The weight of a Float layer in the dtype the GEMM of precision `p` consumes, converted into scratch if needed.
Tensor gemm_weight(const Tensor& w, DType want) {
  if (w.dtype() == want) return w;
  Tensor c = empty(w.shape(), want);
  convert(w, c);
  return c;
}

}  // namespace

void dequantize_w8a16(const QuantLinear& w, Tensor& out) {
  int64_t n = w.out_features, k = w.in_features;
  require_vector(w.weight_scale, n, DType::F32, "weight_scale", w.scheme);
  if (w.weight_offset.defined()) require_vector(w.weight_offset, n, DType::F32, "weight_offset", w.scheme);
  require_shape(out, {n, k}, "dequantize_w8a16 (CUDA)", "out");
  if (out.dtype() != DType::F32 && out.dtype() != DType::BF16)
    fail_internal("dequantize_w8a16 (CUDA): output must be F32 or BF16",
                  err_ctx("", std::string(dtype_name(out.dtype()))));
  int64_t total = n * k;
  if (total == 0) return;
  dequant_w8a16_kernel<<<blocks_for(total, 256), 256, 0, stream()>>>(
      w.weight.data<int8_t>(), w.weight_scale.data<float>(),
      w.weight_offset.defined() ? w.weight_offset.data<float>() : nullptr, k, total,
      out.dtype() == DType::F32 ? out.data<float>() : nullptr,
      out.dtype() == DType::BF16 ? static_cast<__nv_bfloat16*>(out.raw()) : nullptr);
  QDIT_CUDA_LAUNCH_CHECK("dequant_w8a16_kernel");
}

namespace {

// The layer's own tensors, checked for the scheme's GEMM (the dispatcher checked the layer generically).
void require_layer(const QuantLinear& w) {
  const char* op = "linear (CUDA)";
  const int64_t k = w.in_features, n = w.out_features;
  require_device(w.weight, op, "weight");
  require_shape(w.weight, {n, k}, op, "weight");
  if (w.bias.defined()) require_vector(w.bias, n, DType::F32, "bias", w.scheme);
  switch (w.scheme) {
    case SchemeId::Float: {
      const DType wd = w.weight.dtype();
      if (wd != DType::F32 && wd != DType::BF16 && wd != DType::F16)
        fail_internal("linear (CUDA): Float layer weight dtype",
                      err_ctx("F32, BF16 or F16", std::string(dtype_name(wd)), "FLOAT"));
      return;
    }
    case SchemeId::W8A16: require_dtype(w.weight, DType::I8, op, "weight"); return;
    case SchemeId::W8A8:
      require_dtype(w.weight, DType::I8, op, "weight");
      require_vector(w.deq_scale, n, DType::F32, "deq_scale", w.scheme);
      require_vector(w.quant_bias, n, DType::I32, "quant_bias", w.scheme);
      if (w.bias.defined())
        fail_internal("linear (CUDA): static W8A8 layer carries a float bias; it is folded into quant_bias",
                      err_ctx("bias undefined", "bias defined", "W8A8"));
      return;
    case SchemeId::W8A8Dynamic:
    case SchemeId::W4A4Dynamic:
    case SchemeId::W4A8Dynamic:
      require_dtype(w.weight, DType::I8, op, "weight");
      require_vector(w.weight_scale, n, DType::F32, "weight_scale", w.scheme);
      return;
  }
  fail_internal("linear (CUDA): unknown scheme", err_ctx("", std::to_string(static_cast<int>(w.scheme))));
}

// The operands every int8 GEMM of a layer shares: int8 activations [t, K], the layer's int8 weight [N, K], output y.
Int8Gemm int8_operands(const LinearInput& x, const QuantLinear& w, int64_t t, Tensor& y) {
  Int8Gemm g;
  g.a = x.values.data<int8_t>();
  g.b = w.weight.data<int8_t>();
  g.m = t;
  g.n = w.out_features;
  g.k = w.in_features;
  g.out = y.raw();
  g.out_bf16 = y.dtype() == DType::BF16;
  return g;
}

// y of a cuBLASLt GEMM (F32 output only): y itself, or F32 scratch that finish_float_output rounds into a BF16 y.
Tensor float_gemm_output(Tensor& y) { return y.dtype() == DType::F32 ? y : empty(y.shape(), DType::F32); }
void finish_float_output(const Tensor& y32, Tensor& y) {
  if (y32.raw() != y.raw()) convert(y32, y);
}

// The GEMM of layer w on an input already in the form linear_input_spec(w, p, CUDA) names. y is F32, or BF16:
// the F32 result rounded to nearest even (the int8 epilogue rounds in registers; the float GEMMs through scratch).
void gemm_from_input(const LinearInput& x, const QuantLinear& w, Tensor& y, Precision p) {
  const int64_t t = x.values.dim(0), k = w.in_features, n = w.out_features;
  switch (w.scheme) {
    case SchemeId::Float: {
      Tensor y32 = float_gemm_output(y);
      gemm_lt(x.values, gemm_weight(w.weight, p == Precision::FP32 ? DType::F32 : DType::BF16), w.bias, y32);
      return finish_float_output(y32, y);
    }
    case SchemeId::W8A16: {
      Tensor deq = empty({n, k}, p == Precision::FP32 ? DType::F32 : DType::BF16);
      dequantize_w8a16(w, deq);
      Tensor y32 = float_gemm_output(y);
      gemm_lt(x.values, deq, w.bias, y32);
      return finish_float_output(y32, y);
    }
    case SchemeId::W8A8: {
      Int8Gemm g = int8_operands(x, w, t, y);
      g.col_scale = w.deq_scale.data<float>();
      g.col_offset = w.quant_bias.data<int32_t>();
      int8_gemm(g, Int8Epilogue::Static);
      return;
    }
    case SchemeId::W8A8Dynamic:
    case SchemeId::W4A4Dynamic:
    case SchemeId::W4A8Dynamic: {
      Int8Gemm g = int8_operands(x, w, t, y);
      g.row_scale = x.token_scale.data<float>();
      g.col_scale = w.weight_scale.data<float>();
      g.bias = w.bias.defined() ? w.bias.data<float>() : nullptr;
      int8_gemm(g, Int8Epilogue::Dynamic);
      return;
    }
  }
  fail_internal("linear (CUDA): unknown scheme", err_ctx("", std::to_string(static_cast<int>(w.scheme))));
}

// An activation of a linear: F32, or BF16 at BF16 precision (x: an attention output; y: attention's v).
void require_activation_dtype(const Tensor& t, Precision p, const char* op, const char* arg) {
  if (t.dtype() != DType::F32 && !(t.dtype() == DType::BF16 && p == Precision::BF16))
    fail_internal(std::string(op) + ": " + arg + " must be F32 (or BF16 at BF16 precision)",
                  err_ctx("F32, or BF16 at BF16 precision", std::string(dtype_name(t.dtype()))));
}

// y [t, n] on the GPU in an activation dtype.
void require_output(const Tensor& y, int64_t t, int64_t n, Precision p, const char* op) {
  require_device(y, op, "y");
  require_shape(y, {t, n}, op, "y");
  require_activation_dtype(y, p, op, "y");
}

}  // namespace

void linear(const Tensor& x, const QuantLinear& w, Tensor& y, Precision p) {
  const char* op = "linear (CUDA)";
  require_device(x, op, "x");
  require_activation_dtype(x, p, op, "x");
  require_2d(x, op, "x");
  const int64_t t = x.dim(0), k = w.in_features, n = w.out_features;
  if (x.dim(1) != k)
    fail_internal("linear (CUDA): input width does not match the layer",
                  err_ctx(std::to_string(k) + " features", shape_str(x.shape()), scheme_name(w.scheme)));
  require_output(y, t, n, p, op);
  require_layer(w);
  ArenaScope scratch;
  // The unfused path: this call's own conversion/quantization pass, then the same GEMM as the fused inputs. A
  // BF16 x is already the BF16 form (and widens exactly for the quantizers).
  const LinearInputSpec spec = linear_input_spec(w, p, Device::CUDA);
  LinearInput in;
  if (spec.form == LinearInputForm::F32 || (spec.form == LinearInputForm::BF16 && x.dtype() == DType::BF16)) {
    in.spec = spec;
    in.values = x;
  } else {
    in = empty_linear_input(spec, t, k, Device::CUDA);
    to_linear_input(x, in);
  }
  gemm_from_input(in, w, y, p);
}

void linear(const LinearInput& x, const QuantLinear& w, Tensor& y, Precision p) {
  const char* op = "linear (CUDA)";
  require_device(x.values, op, "x.values");
  require_2d(x.values, op, "x.values");
  if (x.values.dim(1) != w.in_features)
    fail_internal("linear (CUDA): input width does not match the layer",
                  err_ctx(std::to_string(w.in_features) + " features", shape_str(x.values.shape()), scheme_name(w.scheme)));
  require_output(y, x.values.dim(0), w.out_features, p, op);
  require_layer(w);
  ArenaScope scratch;  // W8A16's dequantized weight, converted Float weights
  gemm_from_input(x, w, y, p);
}

}  // namespace qdit::ops::cuda
