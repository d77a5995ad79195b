// CUDA side of ops::patchify / unpatchify / expand_axis_table (ops.h): one thread per output element, reads
// gathered (pure data movement of a few MB; what matters is that it stays on the device).
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/cuda_ops.h"
#include "qdit/ops/cuda/runtime.h"

namespace qdit::ops::cuda {

namespace {

__global__ void patchify_kernel(const float* __restrict__ x, int64_t T, int64_t H, int64_t W, int64_t pt, int64_t ph,
                                int64_t pw, int64_t h, int64_t w, int64_t K, int64_t n, float* __restrict__ out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t tok = i / K, col = i % K;
    const int64_t kw = col % pw, kh = col / pw % ph, kt = col / (pw * ph) % pt, c = col / (pw * ph * pt);
    const int64_t wi = tok % w, hi = tok / w % h, fi = tok / (w * h);
    out[i] = x[((c * T + fi * pt + kt) * H + hi * ph + kh) * W + wi * pw + kw];
  }
}

__global__ void unpatchify_kernel(const float* __restrict__ u, int64_t T, int64_t H, int64_t W, int64_t pt,
                                  int64_t ph, int64_t pw, int64_t h, int64_t w, int64_t C, int64_t n,
                                  float* __restrict__ y) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t xw = i % W, xh = i / W % H, xt = i / (W * H) % T, c = i / (W * H * T);
    const int64_t wi = xw / pw, kw = xw % pw, hi = xh / ph, kh = xh % ph, fi = xt / pt, kt = xt % pt;
    const int64_t tok = (fi * h + hi) * w + wi;
    y[i] = u[tok * (pt * ph * pw * C) + ((kt * ph + kh) * pw + kw) * C + c];
  }
}

__global__ void expand_axis_table_kernel(const float* __restrict__ a, int64_t f, int64_t h, int64_t w, int64_t cols,
                                         int64_t split_h, int64_t split_w, int64_t n, float* __restrict__ out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t tok = i / cols, p = i % cols;
    const int64_t row = p < split_h ? tok / (w * h) : p < split_w ? f + tok / w % h : f + h + tok % w;
    out[i] = a[row * cols + p];
  }
}

}  // namespace

void patchify(const Tensor& latent, int64_t pt, int64_t ph, int64_t pw, Tensor& out) {
  const int64_t T = latent.dim(1), H = latent.dim(2), W = latent.dim(3), n = out.numel();
  patchify_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(latent.data<float>(), T, H, W, pt, ph, pw, H / ph,
                                                            W / pw, out.dim(1), n, out.data<float>());
  QDIT_CUDA_LAUNCH_CHECK("patchify_kernel");
}

void unpatchify(const Tensor& tokens, int64_t f, int64_t h, int64_t w, int64_t pt, int64_t ph, int64_t pw,
                Tensor& out) {
  const int64_t n = out.numel();
  unpatchify_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(tokens.data<float>(), f * pt, h * ph, w * pw, pt, ph,
                                                              pw, h, w, out.dim(0), n, out.data<float>());
  QDIT_CUDA_LAUNCH_CHECK("unpatchify_kernel");
}

void expand_axis_table(const Tensor& axis_rows, int64_t f, int64_t h, int64_t w, int64_t split_h, int64_t split_w,
                       Tensor& out) {
  const int64_t n = out.numel();
  expand_axis_table_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(axis_rows.data<float>(), f, h, w,
                                                                     axis_rows.dim(1), split_h, split_w, n,
                                                                     out.data<float>());
  QDIT_CUDA_LAUNCH_CHECK("expand_axis_table_kernel");
}

}  // namespace qdit::ops::cuda
