// Which attention kernel ops::attention runs on the GPU, and cuDNN 9's fused SDPA (flash) engine as one of them.
//
// The rule (a fixed kernel choice on the shape and precision, never a retry after a failure):
//   - Precision::BF16, head_dim 64 or 128 (every Wan model uses 128): cuDNN's SDPA (AttentionKernel::CudnnSdpa).
//     These are exactly the head dims our mma.sync flash kernel serves, so both kernels QDIT_ATTENTION chooses
//     between compute the same contract (P rounded to bf16 before P.V).
//   - any other BF16 head_dim (the tiny test models' 16, 20, 24): our fp32 kernel on bf16-rounded inputs
//     (AttentionKernel::Own), which keeps P in fp32 as the CPU and tests/forward's bf16-policy float64 reference
//     do. cuDNN itself takes any head_dim % 8 == 0 up to 128 (attention_with accepts those and the tests check
//     them), but sending the tiny models' 16 and 24 to it moved the int4-activation whole-model GPU tests from
//     ~1e-6 to 2.3e-2 against that reference (limit 1e-2; measured on an H200, bench/RESULTS.md session 5): int4
//     activation quantization amplifies the bf16 rounding of P and O.
//   - Precision::FP32: always our fp32 kernel (cuDNN's engine computes P.V in bf16).
// QDIT_ATTENTION=own forces our kernels for every shape, QDIT_ATTENTION=cudnn (or unset) applies the rule above;
// any other value is a usage error. A cuDNN failure on a shape given to it is an Internal error carrying cuDNN's
// status, never a switch to another kernel.
#pragma once
#include <cstdint>

#include "qdit/core/tensor.h"
#include "qdit/ops/ops.h"

namespace qdit::ops::cuda {

// Int8QkSm90: int8 q.k^T, fp16 P.V on Hopper (attention_int8.h); Int8QkE4m3PvSm90: the same kernel with e4m3
// P.V. Numerics contracts of their own that model code asks for explicitly (never chosen by the rule below).
enum class AttentionKernel { CudnnSdpa, Own, Int8QkSm90, Int8QkE4m3PvSm90 };
const char* attention_kernel_name(AttentionKernel k);

// Whether cuDNN's SDPA can take this head_dim at all (BF16 only): a multiple of 8 (16-byte bf16 rows), at most 128
// (the largest every cuDNN 9 release serves on Hopper). The rule above uses a subset of these.
bool cudnn_sdpa_supports(int64_t head_dim);
// The kernel ops::attention runs for this precision and head_dim, QDIT_ATTENTION included.
AttentionKernel attention_kernel_for(Precision p, int64_t head_dim);

// ops::attention through one named kernel (the tests and the benchmark compare them in one process). Same
// arguments and checks as ops::attention; asking for CudnnSdpa on a shape it does not take is an error.
// flash_warps: block size of our bf16 tensor-core kernel (4 or 8 warps), used by AttentionKernel::Own only.
void attention_with(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, float scale, Tensor& out,
                    Precision p, AttentionKernel kernel, int flash_warps = 8);

// out = softmax(q k^T * scale) v through cuDNN on bf16 device buffers laid out [L, heads * head_dim] (token-major,
// as qdit's tensors are); out is bf16 in the same layout. The caller validated shapes and owns an arena scope: the
// workspace comes from the arena. The finalized execution plan is cached per (lq, lk, heads, head_dim).
// Why the output is bf16: cuDNN 9.14 accepts a graph with an fp32 O (the plan finalizes) but the engine then writes
// wrong values into it (measured on an H200, bench/RESULTS.md session 5), so O is bf16 as in PyTorch's SDPA and
// ops::attention widens it.
void cudnn_sdpa_bf16(const void* q, const void* k, const void* v, void* out, int64_t lq, int64_t lk, int64_t heads,
                     int64_t head_dim, float scale);

// cuDNN's version as loaded at run time (e.g. 91900 for 9.19.0).
int64_t cudnn_runtime_version();

}  // namespace qdit::ops::cuda
