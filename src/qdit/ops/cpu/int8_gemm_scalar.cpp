// The portable int8 GEMM: plain loops over the weights as stored ([N, K], not copied). It is the fallback for
// CPUs without AVX-512 VNNI and the kernel the tests compare the fast ones against.
#include <algorithm>

#include "qdit/core/parallel.h"
#include "qdit/ops/cpu/int8_kernels.h"

namespace qdit::ops::cpu {

namespace {

class ScalarInt8Gemm final : public Int8Gemm {
 public:
  explicit ScalarInt8Gemm(const Int8GemmSpec& spec) : w_(spec.weight), c_(pad_columns(spec, spec.weight.dim(0))) {
    n_ = w_.dim(0);
    k_ = w_.dim(1);
  }
  Int8Kernel kernel() const override { return Int8Kernel::Scalar; }

  void run(const Int8Activations& a, const float* row_scale, float* y) const override {
    const int8_t* w = w_.data<int8_t>();
    const int64_t n = n_, k = k_;
    parallel_for(a.rows, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int8_t* x = a.data + t * a.ld;
        for (int64_t c = 0; c < n; ++c) {
          const int8_t* wr = w + c * k;
          // Unsigned arithmetic wraps like the int32 accumulators of the vector kernels (see int8_gemm.h).
          uint32_t acc = 0;
          for (int64_t i = 0; i < k; ++i) acc += static_cast<uint32_t>(int32_t{x[i]} * int32_t{wr[i]});
          acc += static_cast<uint32_t>(c_.add[c]);
          float v = static_cast<float>(static_cast<int32_t>(acc)) * c_.scale[c];
          if (row_scale) v *= row_scale[t];
          if (!c_.bias.empty()) v += c_.bias[c];
          y[t * n + c] = v;
        }
      }
    });
  }

 private:
  Tensor w_;
  ColumnConstants c_;
};

}  // namespace

std::unique_ptr<Int8Gemm> make_scalar_int8_gemm(const Int8GemmSpec& spec) {
  return std::make_unique<ScalarInt8Gemm>(spec);
}

}  // namespace qdit::ops::cpu
