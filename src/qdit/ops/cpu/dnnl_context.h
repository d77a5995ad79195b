// The one oneDNN CPU engine and stream of the process, and a per-M cache of matmul primitives (oneDNN
// primitives are specialised to the problem shape; creating one costs far more than running a small one).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

#include <oneapi/dnnl/dnnl.hpp>

namespace qdit::ops::cpu {

dnnl::engine& dnnl_engine();
// oneDNN CPU streams may be shared by threads that submit work one after another (execution is synchronous
// with the OpenMP runtime); ops run one at a time per process thread, so one stream serves all.
dnnl::stream& dnnl_stream();

// matmul primitives keyed by the number of rows M, built on first use by `make`.
class MatmulCache {
 public:
  const dnnl::matmul& get(int64_t m, const std::function<dnnl::matmul::primitive_desc(int64_t)>& make) const;

 private:
  mutable std::mutex mutex_;
  mutable std::map<int64_t, dnnl::matmul> by_rows_;
};

}  // namespace qdit::ops::cpu
