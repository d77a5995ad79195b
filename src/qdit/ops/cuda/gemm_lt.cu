// Float GEMMs through cuBLASLt: y[T,N] = x[T,K] w[N,K]^T (+ bias), fp32 accumulation, bias in the epilogue.
// Row-major y is column-major y^T [N,T], so cuBLASLt computes D = op(A) op(B) with A = w (transposed, K x N
// column-major storage) and B = x (K x T column-major storage): the "TN" form.
// FP32 inputs use CUBLAS_COMPUTE_32F, which never uses TF32 (the FP32 precision mode is exact fp32 GEMM).
#include <map>
#include <mutex>
#include <tuple>

#include "qdit/ops/cuda/arena.h"
#include "qdit/ops/cuda/check.cuh"
#include "qdit/ops/cuda/internal.h"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace {

constexpr size_t kWorkspaceBytes = size_t(32) << 20;

struct Lt {
  std::mutex mu;
  cublasLtHandle_t handle = nullptr;
  void* workspace = nullptr;
  // Heuristic answers per problem: asking cuBLASLt on every call costs tens of microseconds.
  std::map<std::tuple<int64_t, int64_t, int64_t, int, bool>, cublasLtMatmulAlgo_t> algos;
};

Lt& lt() {
  static Lt s;
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.handle) {
    stream();
    QDIT_CUBLAS_CHECK(cublasLtCreate(&s.handle));
    QDIT_CUDA_CHECK(cudaMalloc(&s.workspace, kWorkspaceBytes));
    note_device_malloc(kWorkspaceBytes);
  }
  return s;
}

struct Desc {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  ~Desc() {
    if (d) cublasLtMatrixLayoutDestroy(d);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

}  // namespace

void gemm_lt(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y) {
  const char* op = "gemm_lt (CUDA)";
  require_device(x, op, "x");
  require_2d(x, op, "x");
  require_device(w, op, "w");
  require_2d(w, op, "w");
  if (x.dtype() != w.dtype() || (x.dtype() != DType::F32 && x.dtype() != DType::BF16))
    fail_internal("gemm_lt (CUDA): x and w must both be F32 or both BF16",
                  err_ctx(std::string(dtype_name(x.dtype())) + " weights of F32 or BF16", std::string(dtype_name(w.dtype()))));
  int64_t t = x.dim(0), k = x.dim(1), n = w.dim(0);
  require_shape(w, {n, k}, op, "w");
  require_f32(y, {t, n}, op, "y");
  bool has_bias = bias.defined();
  if (has_bias) require_f32(bias, {n}, op, "bias");
  if (t == 0 || n == 0) return;

  cudaDataType_t ab = x.dtype() == DType::F32 ? CUDA_R_32F : CUDA_R_16BF;
  Lt& L = lt();
  Desc d;
  QDIT_CUBLAS_CHECK(cublasLtMatmulDescCreate(&d.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  QDIT_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
  QDIT_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
  if (has_bias) {
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    const void* bp = bias.raw();
    QDIT_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
    QDIT_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bp, sizeof(bp)));
  }
  QDIT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&d.a, ab, k, n, k));
  QDIT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&d.b, ab, k, t, k));
  QDIT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&d.d, CUDA_R_32F, n, t, n));

  cublasLtMatmulAlgo_t algo;
  {
    std::lock_guard<std::mutex> lock(L.mu);
    auto key = std::make_tuple(t, n, k, static_cast<int>(ab), has_bias);
    auto it = L.algos.find(key);
    if (it == L.algos.end()) {
      cublasLtMatmulPreference_t pref = nullptr;
      QDIT_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
      size_t ws = kWorkspaceBytes;
      QDIT_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                                             sizeof(ws)));
      cublasLtMatmulHeuristicResult_t res{};
      int found = 0;
      cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(L.handle, d.op, d.a, d.b, d.d, d.d, pref, 1, &res, &found);
      cublasLtMatmulPreferenceDestroy(pref);
      if (st != CUBLAS_STATUS_SUCCESS || found == 0)
        fail_internal("gemm_lt (CUDA): cuBLASLt offers no algorithm",
                      err_ctx("an algorithm for " + std::string(dtype_name(x.dtype())) + " GEMM", "none for T=" + std::to_string(t) + " N=" + std::to_string(n) +
                                " K=" + std::to_string(k) + " (status " + std::to_string(int(st)) + ")"));
      it = L.algos.emplace(key, res.algo).first;
    }
    algo = it->second;
  }
  const float alpha = 1.0f, beta = 0.0f;
  QDIT_CUBLAS_CHECK(cublasLtMatmul(L.handle, d.op, &alpha, w.raw(), d.a, x.raw(), d.b, &beta, y.raw(), d.d, y.raw(),
                                   d.d, &algo, L.workspace, kWorkspaceBytes, stream()));
}

}  // namespace qdit::ops::cuda
