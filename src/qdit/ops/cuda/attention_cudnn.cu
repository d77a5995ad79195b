// Attention through cuDNN 9's fused flash-attention engine, described with the backend (graph) API: the engine
// is picked by cuDNN's heuristics for an operation graph that spells SDPA out op by op,
//   S = Q K^T  ->  S * scale  ->  softmax (max, sub, exp, sum, div; log + add form the row statistics)  ->  O = P V
// with every intermediate a virtual tensor, so nothing of the Lq x Lk matrix reaches memory. This is the graph
// the runtime-fusion engine recognises as "fused flash attention fprop"; cuDNN turns it into one kernel.
//
// Layout: qdit's activations are token-major [L, heads * head_dim]; cuDNN wants [batch, heads, L, head_dim]. The
// same bytes are described with strides [L*H*D, D, H*D, 1], so no transpose pass runs. K enters the first product
// transposed, which is the same buffer with its last two dimensions (and strides) swapped.
//
// Numerics (the BF16 contract, docs/numerics.md): q, k, v are bf16; S, the softmax and both accumulations are fp32;
// the probabilities P are rounded to bf16 before P.V (the backend requires P in the input type of the second
// product); O is written as bf16 (the caller widens it to fp32; see attention_cudnn.h for why not fp32).
#include "qdit/ops/cuda/attention_cudnn.h"

#include <cudnn.h>

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "qdit/core/error.h"
#include "qdit/ops/cuda/arena.h"
#include "qdit/ops/cuda/runtime.h"
#include "qdit/ops/cuda/validate.h"

namespace qdit::ops::cuda {

namespace {

struct SdpaShape {
  int64_t lq, lk, heads, hd;
  auto key() const { return std::tuple(lq, lk, heads, hd); }
  std::string text() const {
    return "Lq=" + std::to_string(lq) + ", Lk=" + std::to_string(lk) + ", heads=" + std::to_string(heads) +
           ", head_dim=" + std::to_string(hd);
  }
};

// Every cuDNN failure becomes an Internal error with cuDNN's status name and its own last-error text.
[[noreturn]] void fail_cudnn(cudnnStatus_t st, const std::string& what, const std::string& shape) {
  char detail[1024] = {};
  cudnnGetLastErrorString(detail, sizeof(detail));
  std::string msg = "cuDNN SDPA attention: " + what + " failed";
  if (detail[0]) msg += " (cuDNN: " + std::string(detail) + ")";
  fail_internal(msg, err_ctx("CUDNN_STATUS_SUCCESS", std::string(cudnnGetErrorString(st)) + " for " + shape));
}

void check(cudnnStatus_t st, const char* what, const std::string& shape) {
  if (st != CUDNN_STATUS_SUCCESS) fail_cudnn(st, what, shape);
}

// Owns one backend descriptor.
struct Desc {
  cudnnBackendDescriptor_t d = nullptr;
  Desc() = default;
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;
  ~Desc() {
    if (d) cudnnBackendDestroyDescriptor(d);
  }
};

using Dims = std::array<int64_t, 4>;

// Tensor ids of the variant pack (the non-virtual tensors), and of the virtual ones (unique within the graph).
enum Uid : int64_t { kQ = 1, kK = 2, kV = 3, kO = 4, kScale = 5, kVirtual = 100 };

// Builds the operation graph and keeps every descriptor it made alive for as long as the plan is used.
class GraphBuilder {
 public:
  explicit GraphBuilder(const SdpaShape& s) : shape_(s.text()) {}

  cudnnBackendDescriptor_t create(cudnnBackendDescriptorType_t type, const char* what) {
    descs_.push_back(std::make_unique<Desc>());
    check(cudnnBackendCreateDescriptor(type, &descs_.back()->d), what, shape_);
    return descs_.back()->d;
  }
  void set(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
           int64_t count, const void* value, const char* what) {
    check(cudnnBackendSetAttribute(d, name, type, count, value), what, shape_);
  }
  void finalize(cudnnBackendDescriptor_t d, const char* what) { check(cudnnBackendFinalize(d), what, shape_); }

  cudnnBackendDescriptor_t tensor(int64_t uid, cudnnDataType_t type, const Dims& dims, const Dims& strides,
                                  bool is_virtual, bool by_value = false) {
    const char* what = "tensor descriptor";
    cudnnBackendDescriptor_t t = create(CUDNN_BACKEND_TENSOR_DESCRIPTOR, what);
    int64_t align = 16;  // the tensor-core engines need 16-byte aligned rows; arena buffers are 256-byte aligned
    set(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type, what);
    set(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims.data(), what);
    set(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides.data(), what);
    set(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid, what);
    set(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align, what);
    set(t, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual, what);
    if (by_value) set(t, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &by_value, what);
    finalize(t, what);
    return t;
  }

  // y = mode(x) or y = mode(x, b), computed in fp32.
  cudnnBackendDescriptor_t pointwise(cudnnPointwiseMode_t mode, cudnnBackendDescriptor_t x,
                                     cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t y) {
    const char* what = "pointwise operation";
    cudnnBackendDescriptor_t pw = create(CUDNN_BACKEND_POINTWISE_DESCRIPTOR, what);
    cudnnDataType_t prec = CUDNN_DATA_FLOAT;
    set(pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode, what);
    set(pw, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec, what);
    finalize(pw, what);
    cudnnBackendDescriptor_t op = create(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, what);
    set(op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &pw, what);
    set(op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x, what);
    if (b) set(op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &b, what);
    set(op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y, what);
    finalize(op, what);
    return op;
  }

  // y[..., 1] = reduce over the last dimension of x, in fp32.
  cudnnBackendDescriptor_t reduction(cudnnReduceTensorOp_t mode, cudnnBackendDescriptor_t x,
                                     cudnnBackendDescriptor_t y) {
    const char* what = "reduction operation";
    cudnnBackendDescriptor_t rd = create(CUDNN_BACKEND_REDUCTION_DESCRIPTOR, what);
    cudnnDataType_t prec = CUDNN_DATA_FLOAT;
    set(rd, CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &mode, what);
    set(rd, CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &prec, what);
    finalize(rd, what);
    cudnnBackendDescriptor_t op = create(CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, what);
    set(op, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x, what);
    set(op, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y, what);
    set(op, CUDNN_ATTR_OPERATION_REDUCTION_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &rd, what);
    finalize(op, what);
    return op;
  }

  // c = a b (batched over the first two dimensions), fp32 accumulation.
  cudnnBackendDescriptor_t matmul(cudnnBackendDescriptor_t a, cudnnBackendDescriptor_t b,
                                  cudnnBackendDescriptor_t c) {
    const char* what = "matmul operation";
    cudnnBackendDescriptor_t mm = create(CUDNN_BACKEND_MATMUL_DESCRIPTOR, what);
    cudnnDataType_t prec = CUDNN_DATA_FLOAT;
    set(mm, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &prec, what);
    finalize(mm, what);
    cudnnBackendDescriptor_t op = create(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, what);
    set(op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &a, what);
    set(op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &b, what);
    set(op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &c, what);
    set(op, CUDNN_ATTR_OPERATION_MATMUL_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &mm, what);
    finalize(op, what);
    return op;
  }

  const std::string& shape() const { return shape_; }
  std::vector<std::unique_ptr<Desc>> release() { return std::move(descs_); }

 private:
  std::string shape_;
  std::vector<std::unique_ptr<Desc>> descs_;
};

// The operations of SDPA forward for one shape, in data-flow order.
std::vector<cudnnBackendDescriptor_t> sdpa_operations(GraphBuilder& g, const SdpaShape& s) {
  const int64_t H = s.heads, D = s.hd, Lq = s.lq, Lk = s.lk, W = H * D;
  const bool kVirt = true;
  auto q = g.tensor(kQ, CUDNN_DATA_BFLOAT16, {1, H, Lq, D}, {Lq * W, D, W, 1}, false);
  auto kt = g.tensor(kK, CUDNN_DATA_BFLOAT16, {1, H, D, Lk}, {Lk * W, D, 1, W}, false);
  auto v = g.tensor(kV, CUDNN_DATA_BFLOAT16, {1, H, Lk, D}, {Lk * W, D, W, 1}, false);
  auto o = g.tensor(kO, CUDNN_DATA_BFLOAT16, {1, H, Lq, D}, {Lq * W, D, W, 1}, false);
  auto scale = g.tensor(kScale, CUDNN_DATA_FLOAT, {1, 1, 1, 1}, {1, 1, 1, 1}, false, /*by_value=*/true);

  const Dims sdim{1, H, Lq, Lk}, sstr{H * Lq * Lk, Lq * Lk, Lk, 1};
  const Dims rdim{1, H, Lq, 1}, rstr{H * Lq, Lq, 1, 1};
  int64_t uid = kVirtual;
  auto scores = [&](cudnnDataType_t t) { return g.tensor(uid++, t, sdim, sstr, kVirt); };
  auto rows = [&] { return g.tensor(uid++, CUDNN_DATA_FLOAT, rdim, rstr, kVirt); };

  auto s_raw = scores(CUDNN_DATA_FLOAT), s_scaled = scores(CUDNN_DATA_FLOAT);
  auto row_max = rows();
  auto s_sub = scores(CUDNN_DATA_FLOAT), s_exp = scores(CUDNN_DATA_FLOAT);
  auto row_sum = rows(), row_log = rows();
  // The row statistics max + log(sum) (what a backward pass would read): virtual, since qdit runs inference only;
  // cuDNN's flash pattern includes this pair either way.
  auto stats = rows();
  auto p = scores(CUDNN_DATA_BFLOAT16);  // the backend wants P in the input type of P.V: this is the bf16 rounding

  return {
      g.matmul(q, kt, s_raw),
      g.pointwise(CUDNN_POINTWISE_MUL, s_raw, scale, s_scaled),
      g.reduction(CUDNN_REDUCE_TENSOR_MAX, s_scaled, row_max),
      g.pointwise(CUDNN_POINTWISE_SUB, s_scaled, row_max, s_sub),
      g.pointwise(CUDNN_POINTWISE_EXP, s_sub, nullptr, s_exp),
      g.reduction(CUDNN_REDUCE_TENSOR_ADD, s_exp, row_sum),
      g.pointwise(CUDNN_POINTWISE_LOG, row_sum, nullptr, row_log),
      g.pointwise(CUDNN_POINTWISE_ADD, row_max, row_log, stats),
      g.pointwise(CUDNN_POINTWISE_DIV, s_exp, row_sum, p),
      g.matmul(p, v, o),
  };
}

// A finalized execution plan and everything it was built from.
struct Plan {
  std::vector<std::unique_ptr<Desc>> descs;
  cudnnBackendDescriptor_t plan = nullptr;
  int64_t workspace = 0;
};

struct Cudnn {
  std::mutex mu;
  cudnnHandle_t handle = nullptr;
  std::map<std::tuple<int64_t, int64_t, int64_t, int64_t>, std::unique_ptr<Plan>> plans;
};

// The process's cuDNN state. Deliberately never destroyed: destroying the handle and plans at exit would run after
// the CUDA runtime has begun tearing down its context.
Cudnn& cudnn() {
  static Cudnn* c = [] {
    size_t version = cudnnGetVersion();
    if (version < 90000)
      fail_internal("cuDNN SDPA attention: cuDNN 9 is required (the backend graph API and its flash-attention "
                    "engine)",
                    err_ctx("cuDNN >= 9.0.0", std::to_string(version)));
    auto* state = new Cudnn;
    cudaStream_t s = stream();  // initialises the device first
    check(cudnnCreate(&state->handle), "cudnnCreate", "handle creation");
    check(cudnnSetStream(state->handle, s), "cudnnSetStream", "handle creation");
    return state;
  }();
  return *c;
}

std::unique_ptr<Plan> build_plan(cudnnHandle_t handle, const SdpaShape& s) {
  GraphBuilder g(s);
  std::vector<cudnnBackendDescriptor_t> ops = sdpa_operations(g, s);

  cudnnBackendDescriptor_t graph = g.create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, "operation graph");
  g.set(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle, "operation graph");
  g.set(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, static_cast<int64_t>(ops.size()),
        ops.data(), "operation graph");
  g.finalize(graph, "operation graph (is the SDPA pattern recognised?)");

  cudnnBackendDescriptor_t heur = g.create(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, "engine heuristics");
  cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
  g.set(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph, "engine heuristics");
  g.set(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode, "engine heuristics");
  g.finalize(heur, "engine heuristics");
  int64_t count = 0;
  check(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count,
                                 nullptr),
        "engine heuristics (count)", g.shape());
  if (count <= 0)
    fail_internal("cuDNN SDPA attention: cuDNN's heuristics offer no engine for the attention graph",
                  err_ctx("at least one engine configuration", "none for " + g.shape()));
  std::vector<cudnnBackendDescriptor_t> configs;
  for (int64_t i = 0; i < count; ++i) configs.push_back(g.create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, "engine config"));
  int64_t returned = 0;
  check(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count,
                                 &returned, configs.data()),
        "engine heuristics (results)", g.shape());

  // The heuristics rank the configurations; the first one whose plan finalizes on this device is the one. A
  // configuration that does not finalize is not an error as long as a later one does (that is how the backend
  // API reports "this engine does not take these sizes"); none finalizing is.
  std::string refused;
  for (int64_t i = 0; i < returned; ++i) {
    cudnnBackendDescriptor_t plan = g.create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, "execution plan");
    g.set(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle, "execution plan");
    g.set(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &configs[i],
          "execution plan");
    cudnnStatus_t st = cudnnBackendFinalize(plan);
    if (st != CUDNN_STATUS_SUCCESS) {
      refused += std::string(refused.empty() ? "" : ", ") + cudnnGetErrorString(st);
      continue;
    }
    auto out = std::make_unique<Plan>();
    out->plan = plan;
    check(cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &returned,
                                   &out->workspace),
          "execution plan (workspace size)", g.shape());
    out->descs = g.release();
    return out;
  }
  fail_internal("cuDNN SDPA attention: no engine configuration finalizes for the attention graph",
                err_ctx("a finalized execution plan", "refused: " + refused + " for " + g.shape()));
}

}  // namespace

int64_t cudnn_runtime_version() { return static_cast<int64_t>(cudnnGetVersion()); }

void cudnn_sdpa_bf16(const void* q, const void* k, const void* v, void* out, int64_t lq, int64_t lk, int64_t heads,
                     int64_t head_dim, float scale) {
  Cudnn& c = cudnn();
  std::lock_guard<std::mutex> lock(c.mu);  // one handle, one stream: calls are serialised anyway
  SdpaShape shape{lq, lk, heads, head_dim};
  auto it = c.plans.find(shape.key());
  if (it == c.plans.end()) it = c.plans.emplace(shape.key(), build_plan(c.handle, shape)).first;
  const Plan& plan = *it->second;

  void* workspace = plan.workspace > 0 ? arena_alloc(static_cast<size_t>(plan.workspace)) : nullptr;
  // The scale is passed by value: cuDNN reads the host float when the call is enqueued.
  int64_t uids[5] = {kQ, kK, kV, kO, kScale};
  void* ptrs[5] = {const_cast<void*>(q), const_cast<void*>(k), const_cast<void*>(v), out, &scale};
  const std::string text = shape.text();
  Desc pack;
  check(cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &pack.d), "variant pack", text);
  check(cudnnBackendSetAttribute(pack.d, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 5, uids),
        "variant pack", text);
  check(cudnnBackendSetAttribute(pack.d, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 5, ptrs),
        "variant pack", text);
  check(cudnnBackendSetAttribute(pack.d, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace),
        "variant pack", text);
  check(cudnnBackendFinalize(pack.d), "variant pack", text);
  check(cudnnBackendExecute(c.handle, plan.plan, pack.d), "cudnnBackendExecute", text);
}

}  // namespace qdit::ops::cuda
