#include "qdit/ops/error_context.h"
#include "qdit/ops/cpu/float_gemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "qdit/core/error.h"
#include "qdit/core/half.h"
#include "qdit/core/parallel.h"
#include "qdit/ops/cpu/cpu_features.h"
#include "qdit/ops/cpu/vec_math.h"

namespace qdit::ops::cpu {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

constexpr int64_t kPackingRows = 512;

QDIT_AVX512 void round_to_bf16_avx512(const float* src, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = vec::tail_mask(n - i);
    _mm512_mask_storeu_ps(dst + i, m, vec::round_to_bf16(_mm512_maskz_loadu_ps(m, src + i)));
  }
}

// Scratch for the bf16-rounded copy of the activations, reused across calls of the same thread.
std::vector<float>& bf16_scratch(size_t n) {
  static thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

}  // namespace

void round_to_bf16_values(const float* src, int64_t n, float* dst) {
  const bool avx512 = has_avx512();
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    if (avx512) {
      round_to_bf16_avx512(src + b, e - b, dst + b);
    } else {
      for (int64_t i = b; i < e; ++i) dst[i] = round_to_bf16(src[i]);
    }
  });
}

FloatGemm::FloatGemm(const Tensor& weight, const Tensor& bias, bool bf16) {
  QDIT_CHECK(weight.ndim() == 2 && weight.dtype() == DType::F32, "float GEMM weight must be F32 [N, K]");
  n_ = weight.dim(0);
  k_ = weight.dim(1);
  bf16_ = bf16;
  has_bias_ = bias.defined();
  try {
    weights_desc_ = make_pd(kPackingRows, dnnl::memory::desc({k_, n_}, dt::f32, tag::any)).weights_desc();
    dnnl::memory plain({{k_, n_}, dt::f32, tag::ba}, dnnl_engine(), weight.raw());
    packed_ = dnnl::memory(weights_desc_, dnnl_engine());
    dnnl::reorder(plain, packed_).execute(dnnl_stream(), plain, packed_);
    if (has_bias_) {
      bias_ = dnnl::memory({{1, n_}, dt::f32, tag::ab}, dnnl_engine());
      std::memcpy(bias_.get_data_handle(), bias.raw(), n_ * sizeof(float));
    }
    dnnl_stream().wait();
  } catch (const dnnl::error& e) {
    fail_internal(std::string("oneDNN float matmul setup failed: ") + e.what(),
                  expected_found("a matmul for N=" + std::to_string(n_) + " K=" + std::to_string(k_)));
  }
}

dnnl::matmul::primitive_desc FloatGemm::make_pd(int64_t m, const dnnl::memory::desc& weights) const {
  const dnnl::memory::desc src({m, k_}, dt::f32, tag::ab), dst({m, n_}, dt::f32, tag::ab);
  if (has_bias_) {
    const dnnl::memory::desc bias({1, n_}, dt::f32, tag::ab);
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, bias, dst), dnnl_engine());
  }
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, dst), dnnl_engine());
}

void FloatGemm::run(const float* x, int64_t m, float* y) const {
  if (m == 0) return;
  try {
    const dnnl::matmul& mm = cache_.get(m, [&](int64_t rows) { return make_pd(rows, weights_desc_); });
    void* src_data = const_cast<float*>(x);
    if (bf16_) {
      std::vector<float>& scratch = bf16_scratch(static_cast<size_t>(m * k_));
      round_to_bf16_values(x, m * k_, scratch.data());
      src_data = scratch.data();
    }
    dnnl::memory src({{m, k_}, dt::f32, tag::ab}, dnnl_engine(), src_data);
    dnnl::memory dst({{m, n_}, dt::f32, tag::ab}, dnnl_engine(), y);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, packed_}, {DNNL_ARG_DST, dst}};
    if (has_bias_) args.emplace(DNNL_ARG_BIAS, bias_);
    mm.execute(dnnl_stream(), args);
    dnnl_stream().wait();
  } catch (const dnnl::error& e) {
    fail_internal(std::string("oneDNN float matmul failed: ") + e.what(),
                  expected_found("M=" + std::to_string(m) + " N=" + std::to_string(n_) + " K=" + std::to_string(k_)));
  }
}

}  // namespace qdit::ops::cpu
