#include "qdit/ops/cpu/dnnl_context.h"

namespace qdit::ops::cpu {

dnnl::engine& dnnl_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& dnnl_stream() {
  static dnnl::stream stream(dnnl_engine());
  return stream;
}

const dnnl::matmul& MatmulCache::get(int64_t m,
                                     const std::function<dnnl::matmul::primitive_desc(int64_t)>& make) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_rows_.find(m);
  if (it == by_rows_.end()) it = by_rows_.emplace(m, dnnl::matmul(make(m))).first;
  return it->second;
}

}  // namespace qdit::ops::cpu
