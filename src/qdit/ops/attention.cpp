// Dispatch of ops::attention.
#include <iterator>
#include <string>

#include "qdit/ops/error_context.h"
#include "qdit/core/error.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/op_args.h"
#include "qdit/ops/stage_timer.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/cuda_ops.h"
#endif

namespace qdit::ops {

DType attention_io_dtype(Device device, Precision p, int64_t head_dim) {
  if (device != Device::CUDA) return DType::F32;
#ifdef QDIT_WITH_CUDA
  return cuda::attention_io_dtype(p, head_dim);
#else
  (void)p;
  (void)head_dim;
  fail_no_cuda("attention");
#endif
}

const char* attention_qk_name(AttentionQk qk) {
  switch (qk) {
    case AttentionQk::AsPrecision: return "as-precision";
    case AttentionQk::Int8: return "int8";
    case AttentionQk::Int8E4m3Pv: return "int8-e4m3pv";
  }
  return "?";
}

namespace {
constexpr AttentionQk kAllQk[] = {AttentionQk::AsPrecision, AttentionQk::Int8, AttentionQk::Int8E4m3Pv};
}  // namespace

bool attention_qk_from_name(const std::string& name, AttentionQk& qk) {
  for (AttentionQk q : kAllQk)
    if (name == attention_qk_name(q)) {
      qk = q;
      return true;
    }
  return false;
}

std::string attention_qk_choices() {
  constexpr size_t n = std::size(kAllQk);
  std::string s;
  for (size_t i = 0; i < n; ++i)
    s += std::string(i == 0 ? "" : i + 1 == n ? " or " : ", ") + attention_qk_name(kAllQk[i]);
  return s;
}

bool attention_qk_available(AttentionQk qk, Device device, Precision p, int64_t head_dim) {
  return qk == AttentionQk::AsPrecision || (device == Device::CUDA && p == Precision::BF16 && head_dim == 128);
}

void attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, float scale, Tensor& out,
               Precision p, AttentionQk qk) {
  const Device device = common_device("attention", {{"q", &q}, {"k", &k}, {"v", &v}, {"out", &out}});
  const int64_t width = q.ndim() == 2 ? q.dim(1) : -1;
  const int64_t lq = require_activation_matrix(q, width, device, p, "attention", "q");
  const int64_t lk = require_activation_matrix(k, width, device, p, "attention", "k");
  if (require_activation_matrix(v, width, device, p, "attention", "v") != lk)
    fail_internal("attention: v and k differ in length", expected_found(shape_str(k.shape()), shape_str(v.shape())));
  if (require_activation_matrix(out, width, device, p, "attention", "out") != lq)
    fail_internal("attention: out and q differ in length", expected_found(shape_str(q.shape()), shape_str(out.shape())));
  if (heads < 1 || width % heads != 0)
    fail_internal("attention: the row does not split into heads",
                  expected_found("width divisible by heads",
                   "width " + std::to_string(width) + ", heads " + std::to_string(heads)));
  const bool any_bf16 = q.dtype() == DType::BF16 || k.dtype() == DType::BF16 || v.dtype() == DType::BF16 ||
                        out.dtype() == DType::BF16;
  if (any_bf16 && attention_io_dtype(device, p, width / heads) != DType::BF16)
    fail_internal("attention: BF16 tensors given where the kernel takes F32 (attention_io_dtype)",
                  expected_found("F32 q, k, v, out", "a BF16 tensor, head_dim " + std::to_string(width / heads)));
  if (lk < 1) fail_internal("attention: no keys", expected_found("at least one key", "0"));
  if (out.raw() == q.raw() || out.raw() == k.raw() || out.raw() == v.raw())
    fail_internal("attention: out must not alias q, k or v", expected_found("distinct buffers"));
  if (qk != AttentionQk::AsPrecision) {
    if (!attention_qk_available(qk, device, p, width / heads))
      fail_usage(std::string("attention: ") + attention_qk_name(qk) +
                     " (int8 q.k^T) is a CUDA kernel for BF16 precision and head_dim 128",
                 expected_found("CUDA, BF16, head_dim 128",
                                std::string(device == Device::CUDA ? "CUDA" : "CPU") + ", " +
                                    (p == Precision::BF16 ? "BF16" : "FP32") + ", head_dim " +
                                    std::to_string(width / heads)));
  }
  if (lq == 0) return;
  StageScope stage(Stage::Attention, 4.0 * static_cast<double>(lq) * lk * width);  // qdit bench
  if (device == Device::CPU) return cpu::attention(q, k, v, heads, scale, out, p);
#ifdef QDIT_WITH_CUDA
  cuda::attention(q, k, v, heads, scale, out, p, qk);
#else
  fail_no_cuda("attention");
#endif
}

}  // namespace qdit::ops
