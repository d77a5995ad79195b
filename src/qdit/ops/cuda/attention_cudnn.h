// Which attention kernel ops::attention runs on the GPU, and cuDNN 9's fused SDPA (flash) engine as one of them.
//
// The rule (a fixed kernel choice on the shape and precision, never a retry after a failure):
//   - Precision::BF16, head_dim a multiple of 8 and at most 128: cuDNN's SDPA (AttentionKernel::CudnnSdpa).
//     cuDNN's fused attention needs head_dim % 8 == 0 (16-byte rows of bf16); 128 is the largest head_dim every
//     cuDNN 9 release serves on Hopper, and the largest Wan uses.
//   - any other BF16 shape (the tiny test models' head_dim 20, say): our own kernels (AttentionKernel::Own: the
//     mma.sync flash kernel for head_dim 64/128, else the fp32 kernel on bf16-rounded inputs).
//   - Precision::FP32: always our fp32 kernel (cuDNN's engine computes P.V in bf16).
// QDIT_ATTENTION=own forces our kernels for every shape, QDIT_ATTENTION=cudnn (or unset) applies the rule above;
// any other value is a usage error. A cuDNN failure on a shape the rule gives it is an Internal error carrying
// cuDNN's status, never a switch to another kernel.
#pragma once
#include <cstdint>

#include "qdit/core/tensor.h"
#include "qdit/ops/ops.h"

namespace qdit::ops::cuda {

enum class AttentionKernel { CudnnSdpa, Own };
const char* attention_kernel_name(AttentionKernel k);

// Whether cuDNN's SDPA takes this head_dim (BF16 only; see the rule above).
bool cudnn_sdpa_supports(int64_t head_dim);
// The kernel ops::attention runs for this precision and head_dim, QDIT_ATTENTION included.
AttentionKernel attention_kernel_for(Precision p, int64_t head_dim);

// ops::attention through one named kernel (the tests and the benchmark compare them in one process). Same
// arguments and checks as ops::attention; asking for CudnnSdpa on a shape it does not take is an error.
// flash_warps: block size of our bf16 tensor-core kernel (4 or 8 warps), used by AttentionKernel::Own only.
void attention_with(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, float scale, Tensor& out,
                    Precision p, AttentionKernel kernel, int flash_warps = 8);

// out = softmax(q k^T * scale) v through cuDNN on bf16 device buffers laid out [L, heads * head_dim] (token-major,
// as qdit's tensors are). The caller validated shapes and owns an arena scope: the workspace comes from the arena.
// The finalized execution plan is cached per (lq, lk, heads, head_dim).
void cudnn_sdpa_bf16(const void* q, const void* k, const void* v, void* out, int64_t lq, int64_t lk, int64_t heads,
                     int64_t head_dim, float scale);

// cuDNN's version as loaded at run time (e.g. 91900 for 9.19.0).
int64_t cudnn_runtime_version();

}  // namespace qdit::ops::cuda
