// Dispatch of ops::patchify, ops::unpatchify and ops::expand_axis_table (video latents <-> tokens, per-token
// tables from per-axis rows).
#include "qdit/core/error.h"
#include "qdit/ops/cpu/cpu_ops.h"
#include "qdit/ops/error_context.h"
#include "qdit/ops/op_args.h"
#ifdef QDIT_WITH_CUDA
#include "qdit/ops/cuda/cuda_ops.h"
#endif

namespace qdit::ops {

namespace {

void require_patch(int64_t pt, int64_t ph, int64_t pw, const char* op) {
  if (pt < 1 || ph < 1 || pw < 1)
    fail_internal(std::string(op) + ": patch sizes must be positive",
                  expected_found(">= 1 each", std::to_string(pt) + " x " + std::to_string(ph) + " x " +
                                                  std::to_string(pw)));
}

}  // namespace

void patchify(const Tensor& latent, int64_t pt, int64_t ph, int64_t pw, Tensor& out) {
  const Device device = common_device("patchify", {{"latent", &latent}, {"out", &out}});
  require_patch(pt, ph, pw, "patchify");
  require_dtype(latent, DType::F32, "patchify", "latent");
  if (latent.ndim() != 4 || latent.dim(1) % pt != 0 || latent.dim(2) % ph != 0 || latent.dim(3) % pw != 0)
    fail_internal("patchify: the latent is not [C, T, H, W] in whole patches",
                  expected_found("4-D with T, H, W multiples of " + std::to_string(pt) + ", " + std::to_string(ph) +
                                     ", " + std::to_string(pw),
                                 shape_str(latent.shape())));
  const int64_t tokens = latent.dim(1) / pt * (latent.dim(2) / ph) * (latent.dim(3) / pw);
  require_f32(out, {tokens, latent.dim(0) * pt * ph * pw}, "patchify", "out");
  if (out.numel() == 0) return;
  if (device == Device::CPU) return cpu::patchify(latent, pt, ph, pw, out);
#ifdef QDIT_WITH_CUDA
  cuda::patchify(latent, pt, ph, pw, out);
#else
  fail_no_cuda("patchify");
#endif
}

void unpatchify(const Tensor& tokens, int64_t f, int64_t h, int64_t w, int64_t pt, int64_t ph, int64_t pw,
                Tensor& out) {
  const Device device = common_device("unpatchify", {{"tokens", &tokens}, {"out", &out}});
  require_patch(pt, ph, pw, "unpatchify");
  if (f < 0 || h < 0 || w < 0)
    fail_internal("unpatchify: negative grid", expected_found(">= 0", std::to_string(f) + " x " + std::to_string(h) +
                                                                          " x " + std::to_string(w)));
  const int64_t p = tokens.ndim() == 2 ? tokens.dim(1) : -1;
  require_f32_matrix(tokens, p, "unpatchify", "tokens");
  if (p % (pt * ph * pw) != 0 || tokens.dim(0) != f * h * w)
    fail_internal("unpatchify: tokens do not match the grid and patch",
                  expected_found("[" + std::to_string(f * h * w) + ", a multiple of " + std::to_string(pt * ph * pw) +
                                     "]",
                                 shape_str(tokens.shape())));
  require_f32(out, {p / (pt * ph * pw), f * pt, h * ph, w * pw}, "unpatchify", "out");
  if (out.numel() == 0) return;
  if (device == Device::CPU) return cpu::unpatchify(tokens, f, h, w, pt, ph, pw, out);
#ifdef QDIT_WITH_CUDA
  cuda::unpatchify(tokens, f, h, w, pt, ph, pw, out);
#else
  fail_no_cuda("unpatchify");
#endif
}

void expand_axis_table(const Tensor& axis_rows, int64_t f, int64_t h, int64_t w, int64_t split_h, int64_t split_w,
                       Tensor& out) {
  const Device device = common_device("expand_axis_table", {{"axis_rows", &axis_rows}, {"out", &out}});
  const int64_t n = axis_rows.ndim() == 2 ? axis_rows.dim(1) : -1;
  if (f < 0 || h < 0 || w < 0 || split_h < 0 || split_h > split_w || split_w > n)
    fail_internal("expand_axis_table: bad grid or column splits",
                  expected_found("0 <= split_h <= split_w <= columns, grid >= 0",
                                 "grid " + std::to_string(f) + " x " + std::to_string(h) + " x " + std::to_string(w) +
                                     ", splits " + std::to_string(split_h) + ", " + std::to_string(split_w) +
                                     ", columns " + std::to_string(n)));
  require_f32(axis_rows, {f + h + w, n}, "expand_axis_table", "axis_rows");
  require_f32(out, {f * h * w, n}, "expand_axis_table", "out");
  if (out.numel() == 0) return;
  if (device == Device::CPU) return cpu::expand_axis_table(axis_rows, f, h, w, split_h, split_w, out);
#ifdef QDIT_WITH_CUDA
  cuda::expand_axis_table(axis_rows, f, h, w, split_h, split_w, out);
#else
  fail_no_cuda("expand_axis_table");
#endif
}

}  // namespace qdit::ops
