// rmsnorm then rope on each token's row while it is in L1: one pass over memory instead of two.
#include <algorithm>

#include "qdit/core/parallel.h"
#include "qdit/ops/cpu/cpu_features.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/cpu/row_kernels.h"

namespace qdit::ops::cpu {

void rmsnorm_rope(Tensor& x, const Tensor& w, float eps, int64_t heads, const Tensor& cos, const Tensor& sin) {
  const int64_t t = x.dim(0), d = x.dim(1), hd = d / heads, half = hd / 2;
  float* xp = x.data<float>();
  const float* wp = w.data<float>();
  const float* cp = cos.data<float>();
  const float* sp = sin.data<float>();
  const bool avx512 = has_avx512();
  parallel_for(t, std::max<int64_t>(1, 4096 / d), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      rmsnorm_row(xp + r * d, wp, d, eps, avx512);
      rope_row(xp + r * d, cp + r * half, sp + r * half, heads, hd, avx512);
    }
  });
}

}  // namespace qdit::ops::cpu
