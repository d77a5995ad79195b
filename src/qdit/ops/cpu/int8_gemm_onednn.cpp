// The oneDNN int8 GEMM: dnnl::matmul s8 x s8 -> f32 with the per-channel scales given at primitive creation
// (constant scales let oneDNN 2.6 pick its AMX/VNNI brgemm kernels; runtime scales fall back to a slower
// gemm) and the static quant_bias as an s32 bias, which oneDNN 2.x adds before scaling:
// y = (acc + col_add) * col_scale. The per-token scale and the float bias follow in one pass over y
// (oneDNN 2.6 runs a per-row binary post-op only in its reference kernel).
// The weights are reordered once into the layout oneDNN picks for a large M; smaller M reuse that layout.
#include <algorithm>

#include "qdit/ops/error_context.h"
#include "qdit/core/error.h"
#include "qdit/core/parallel.h"
#include "qdit/ops/cpu/dnnl_context.h"
#include "qdit/ops/cpu/int8_kernels.h"

namespace qdit::ops::cpu {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

constexpr int64_t kPackingRows = 512;

class OneDnnInt8Gemm final : public Int8Gemm {
 public:
  explicit OneDnnInt8Gemm(const Int8GemmSpec& spec) : spec_(spec) {
    n_ = spec.weight.dim(0);
    k_ = spec.weight.dim(1);
    has_add_ = std::any_of(spec.col_add.begin(), spec.col_add.end(), [](int32_t v) { return v != 0; });
    try {
      const dnnl::memory::desc any({k_, n_}, dt::s8, tag::any);
      weights_desc_ = make_pd(kPackingRows, any).weights_desc();
      dnnl::memory plain({{k_, n_}, dt::s8, tag::ba}, dnnl_engine(), spec.weight.raw());
      packed_ = dnnl::memory(weights_desc_, dnnl_engine());
      dnnl::reorder(plain, packed_).execute(dnnl_stream(), plain, packed_);
      if (has_add_) {
        bias_ = dnnl::memory({{1, n_}, dt::s32, tag::ab}, dnnl_engine());
        std::copy(spec.col_add.begin(), spec.col_add.end(), static_cast<int32_t*>(bias_.get_data_handle()));
      }
      dnnl_stream().wait();
    } catch (const dnnl::error& e) {
      fail_internal(std::string("oneDNN int8 matmul setup failed: ") + e.what(),
                    expected_found("an s8 x s8 -> f32 matmul for N=" + std::to_string(n_) + " K=" + std::to_string(k_)));
    }
  }
  Int8Kernel kernel() const override { return Int8Kernel::OneDnn; }

  void run(const Int8Activations& a, const float* row_scale, float* y) const override {
    QDIT_CHECK(a.ld == k_ && !a.layout.u8_offset, "oneDNN int8 GEMM needs dense s8 activations");
    const int64_t m = a.rows;
    try {
      const dnnl::matmul& mm = cache_.get(m, [&](int64_t rows) { return make_pd(rows, weights_desc_); });
      dnnl::memory src({{m, k_}, dt::s8, tag::ab}, dnnl_engine(), const_cast<int8_t*>(a.data));
      dnnl::memory dst({{m, n_}, dt::f32, tag::ab}, dnnl_engine(), y);
      std::unordered_map<int, dnnl::memory> args{
          {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, packed_}, {DNNL_ARG_DST, dst}};
      if (has_add_) args.emplace(DNNL_ARG_BIAS, bias_);
      mm.execute(dnnl_stream(), args);
      dnnl_stream().wait();
    } catch (const dnnl::error& e) {
      fail_internal(std::string("oneDNN int8 matmul failed: ") + e.what(),
                    expected_found("M=" + std::to_string(m) + " N=" + std::to_string(n_) + " K=" + std::to_string(k_)));
    }
    if (!row_scale && spec_.bias.empty()) return;
    const float* bias = spec_.bias.empty() ? nullptr : spec_.bias.data();
    const int64_t n = n_;
    parallel_for(m, std::max<int64_t>(1, 4096 / n), [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        float* row = y + t * n;
        if (row_scale)
          for (int64_t c = 0; c < n; ++c) row[c] *= row_scale[t];
        if (bias)
          for (int64_t c = 0; c < n; ++c) row[c] += bias[c];
      }
    });
  }

 private:
  dnnl::matmul::primitive_desc make_pd(int64_t m, const dnnl::memory::desc& weights) const {
    dnnl::primitive_attr attr;
    attr.set_output_scales(1 << 1, spec_.col_scale);
    const dnnl::memory::desc src({m, k_}, dt::s8, tag::ab), dst({m, n_}, dt::f32, tag::ab);
    if (has_add_) {
      const dnnl::memory::desc bias({1, n_}, dt::s32, tag::ab);
      return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, bias, dst), attr, dnnl_engine());
    }
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, dst), attr, dnnl_engine());
  }

  Int8GemmSpec spec_;
  bool has_add_ = false;
  dnnl::memory::desc weights_desc_;
  dnnl::memory packed_;
  dnnl::memory bias_;
  MatmulCache cache_;
};

}  // namespace

std::unique_ptr<Int8Gemm> make_onednn_int8_gemm(const Int8GemmSpec& spec) {
  return std::make_unique<OneDnnInt8Gemm>(spec);
}

}  // namespace qdit::ops::cpu
