// Kernel choice, activation layouts and the helpers shared by the int8 GEMM kernels.
#include "qdit/ops/error_context.h"
#include "qdit/ops/cpu/int8_gemm.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "qdit/core/error.h"
#include "qdit/core/parallel.h"
#include "qdit/ops/cpu/cpu_features.h"
#include "qdit/ops/cpu/int8_kernels.h"

namespace qdit::ops::cpu {

namespace {

std::mutex g_kernel_mutex;
std::optional<Int8Kernel> g_forced_kernel;

constexpr Int8Kernel kAllKernels[] = {Int8Kernel::Scalar, Int8Kernel::Vnni, Int8Kernel::Amx, Int8Kernel::OneDnn};

Int8Kernel kernel_from_environment_or_default() {
  if (const char* env = std::getenv("QDIT_INT8_KERNEL"); env && *env) {
    for (Int8Kernel k : kAllKernels) {
      if (std::string(env) != int8_kernel_name(k)) continue;
      if (!int8_kernel_available(k))
        fail_usage("QDIT_INT8_KERNEL names a kernel this CPU cannot run",
                   expected_found("an available kernel", env));
      return k;
    }
    fail_usage("QDIT_INT8_KERNEL is not a known int8 kernel",
               expected_found("scalar, vnni, amx or onednn", env));
  }
  // Order measured by bench/gemm_bench.cpp (bench/RESULTS.md).
  for (Int8Kernel k : {Int8Kernel::Amx, Int8Kernel::Vnni})
    if (int8_kernel_available(k)) return k;
  return Int8Kernel::Scalar;
}

}  // namespace

const char* int8_kernel_name(Int8Kernel k) {
  switch (k) {
    case Int8Kernel::Scalar: return "scalar";
    case Int8Kernel::Vnni: return "vnni";
    case Int8Kernel::Amx: return "amx";
    case Int8Kernel::OneDnn: return "onednn";
  }
  return "?";
}

bool int8_kernel_available(Int8Kernel k) {
  switch (k) {
    case Int8Kernel::Scalar: return true;
    case Int8Kernel::Vnni: return has_avx512_vnni();
    case Int8Kernel::Amx: return has_amx_int8();
    // oneDNN's int8 matmul is exact only where it runs on vpdpbusd / tdpbssd; older CPUs use vpmaddubsw,
    // whose int16 pair sums saturate.
    case Int8Kernel::OneDnn: return has_avx512_vnni();
  }
  return false;
}

Int8Kernel active_int8_kernel() {
  std::lock_guard<std::mutex> lock(g_kernel_mutex);
  if (g_forced_kernel) return *g_forced_kernel;
  static const Int8Kernel chosen = kernel_from_environment_or_default();
  return chosen;
}

void set_int8_kernel(std::optional<Int8Kernel> k) {
  if (k && !int8_kernel_available(*k))
    fail_usage("int8 kernel not available on this CPU", expected_found("an available kernel", int8_kernel_name(*k)));
  std::lock_guard<std::mutex> lock(g_kernel_mutex);
  g_forced_kernel = k;
}

Int8ActLayout int8_act_layout(Int8Kernel k) {
  switch (k) {
    case Int8Kernel::Scalar: return {1, 1, false};
    case Int8Kernel::Vnni: return {1, 4, true};
    // 32 x 32 output blocks from 16 x 64-byte tiles, each activation tile one contiguous KiB.
    case Int8Kernel::Amx: return {32, 64, false, true};
    case Int8Kernel::OneDnn: return {1, 1, false};
  }
  return {};
}

std::unique_ptr<Int8Gemm> make_int8_gemm(Int8Kernel kernel, const Int8GemmSpec& spec) {
  const Tensor& w = spec.weight;
  QDIT_CHECK(w.defined() && w.dtype() == DType::I8 && w.ndim() == 2 && w.device() == Device::CPU,
             "int8 GEMM weight must be a CPU I8 [N, K] tensor, got " + shape_str(w.shape()));
  const size_t n = static_cast<size_t>(w.dim(0));
  QDIT_CHECK(spec.col_scale.size() == n, "col_scale has " + std::to_string(spec.col_scale.size()) + " entries");
  QDIT_CHECK(spec.col_add.empty() || spec.col_add.size() == n, "col_add size");
  QDIT_CHECK(spec.bias.empty() || spec.bias.size() == n, "bias size");
  switch (kernel) {
    case Int8Kernel::Scalar: return make_scalar_int8_gemm(spec);
    case Int8Kernel::Vnni: return make_vnni_int8_gemm(spec);
    case Int8Kernel::Amx: return make_amx_int8_gemm(spec);
    case Int8Kernel::OneDnn: return make_onednn_int8_gemm(spec);
  }
  fail_internal("unknown int8 kernel");
}

PanelPackedWeights pack_panels(const Tensor& w, int64_t k_multiple, int64_t panel_multiple) {
  const int64_t n = w.dim(0), k = w.dim(1);
  PanelPackedWeights p;
  p.kp = round_up(k, k_multiple);
  p.panels = round_up(round_up(n, 16) / 16, panel_multiple);
  p.bytes = Tensor::zeros({p.panels * p.kp * 16}, DType::U8);
  const int8_t* src = w.data<int8_t>();
  int8_t* dst = p.bytes.data<int8_t>();
  parallel_for(p.panels, 1, [&](int64_t b, int64_t e) {
    for (int64_t panel = b; panel < e; ++panel) {
      int8_t* out = dst + panel * p.kp * 16;
      for (int64_t j = 0; j < 16; ++j) {
        const int64_t row = panel * 16 + j;
        if (row >= n) break;
        const int8_t* in = src + row * k;
        int64_t g = 0;
        for (; 4 * g + 4 <= k; ++g) std::memcpy(out + g * 64 + j * 4, in + 4 * g, 4);
        if (4 * g < k) std::memcpy(out + g * 64 + j * 4, in + 4 * g, static_cast<size_t>(k - 4 * g));
      }
    }
  });
  return p;
}

ColumnConstants pad_columns(const Int8GemmSpec& spec, int64_t n_padded) {
  const size_t n = spec.col_scale.size();
  ColumnConstants c;
  c.add.assign(n_padded, 0);
  c.scale.assign(n_padded, 0.0f);
  if (!spec.col_add.empty()) std::memcpy(c.add.data(), spec.col_add.data(), n * sizeof(int32_t));
  std::memcpy(c.scale.data(), spec.col_scale.data(), n * sizeof(float));
  if (!spec.bias.empty()) {
    c.bias.assign(n_padded, 0.0f);
    std::memcpy(c.bias.data(), spec.bias.data(), n * sizeof(float));
  }
  return c;
}

std::vector<int64_t> weight_row_sums(const Tensor& w) {
  const int64_t n = w.dim(0), k = w.dim(1);
  std::vector<int64_t> sums(n, 0);
  const int8_t* p = w.data<int8_t>();
  for (int64_t r = 0; r < n; ++r)
    for (int64_t kk = 0; kk < k; ++kk) sums[r] += p[r * k + kk];
  return sums;
}

}  // namespace qdit::ops::cpu
