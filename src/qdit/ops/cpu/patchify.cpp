// CPU side of ops::patchify / unpatchify / expand_axis_table (ops.h). Each pass works one row of tokens at a
// time, so the row's output block stays in cache while the latent rows it draws from are read front to back.
#include <cstring>

#include "qdit/ops/cpu/cpu_ops.h"

namespace qdit::ops::cpu {

void patchify(const Tensor& latent, int64_t pt, int64_t ph, int64_t pw, Tensor& out) {
  const int64_t C = latent.dim(0), T = latent.dim(1), H = latent.dim(2), W = latent.dim(3);
  const int64_t f = T / pt, h = H / ph, w = W / pw, K = C * pt * ph * pw;
  const float* x = latent.data<float>();
  float* o = out.data<float>();
  for (int64_t fi = 0; fi < f; ++fi)
    for (int64_t hi = 0; hi < h; ++hi) {
      float* row = o + (fi * h + hi) * w * K;
      for (int64_t c = 0; c < C; ++c)
        for (int64_t kt = 0; kt < pt; ++kt)
          for (int64_t kh = 0; kh < ph; ++kh) {
            const float* src = x + ((c * T + fi * pt + kt) * H + hi * ph + kh) * W;
            const int64_t col = ((c * pt + kt) * ph + kh) * pw;
            for (int64_t wi = 0; wi < w; ++wi)
              for (int64_t kw = 0; kw < pw; ++kw) row[wi * K + col + kw] = src[wi * pw + kw];
          }
    }
}

void unpatchify(const Tensor& tokens, int64_t f, int64_t h, int64_t w, int64_t pt, int64_t ph, int64_t pw,
                Tensor& out) {
  const int64_t P = tokens.dim(1), C = P / (pt * ph * pw), T = f * pt, H = h * ph, W = w * pw;
  const float* u = tokens.data<float>();
  float* y = out.data<float>();
  for (int64_t fi = 0; fi < f; ++fi)
    for (int64_t hi = 0; hi < h; ++hi) {
      const float* row = u + (fi * h + hi) * w * P;
      for (int64_t c = 0; c < C; ++c)
        for (int64_t kt = 0; kt < pt; ++kt)
          for (int64_t kh = 0; kh < ph; ++kh) {
            float* dst = y + ((c * T + fi * pt + kt) * H + hi * ph + kh) * W;
            for (int64_t wi = 0; wi < w; ++wi)
              for (int64_t kw = 0; kw < pw; ++kw) dst[wi * pw + kw] = row[wi * P + ((kt * ph + kh) * pw + kw) * C + c];
          }
    }
}

void expand_axis_table(const Tensor& axis_rows, int64_t f, int64_t h, int64_t w, int64_t split_h, int64_t split_w,
                       Tensor& out) {
  const int64_t n = axis_rows.dim(1);
  const float* a = axis_rows.data<float>();
  float* o = out.data<float>();
  for (int64_t fi = 0; fi < f; ++fi)
    for (int64_t hi = 0; hi < h; ++hi)
      for (int64_t wi = 0; wi < w; ++wi) {
        float* dst = o + ((fi * h + hi) * w + wi) * n;
        std::memcpy(dst, a + fi * n, sizeof(float) * split_h);
        std::memcpy(dst + split_h, a + (f + hi) * n + split_h, sizeof(float) * (split_w - split_h));
        std::memcpy(dst + split_w, a + (f + h + wi) * n + split_w, sizeof(float) * (n - split_w));
      }
}

}  // namespace qdit::ops::cpu
