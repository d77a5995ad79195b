// The float64 attention reference of the GPU attention tests: softmax(q k^T * scale) v per head on whatever
// operands the test gives (exact, bf16-rounded, or dequantized int8), rows chosen by the test.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace qdit::test {

// Reference for the query rows in `rows` (all_rows(lq) for every row); returns [rows.size(), heads*hd] row-major.
inline std::vector<double> attention_ref(const std::vector<double>& q, const std::vector<double>& k,
                                  const std::vector<double>& v, int64_t lq, int64_t lk, int64_t heads, int64_t hd,
                                  double scale, const std::vector<int64_t>& rows) {
  int64_t w = heads * hd;
  std::vector<double> out(rows.size() * w), s(static_cast<size_t>(lk));
  for (size_t ri = 0; ri < rows.size(); ++ri) {
    int64_t r = rows[ri];
    for (int64_t h = 0; h < heads; ++h) {
      double mx = -INFINITY;
      for (int64_t j = 0; j < lk; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < hd; ++d) dot += q[r * w + h * hd + d] * k[j * w + h * hd + d];
        s[j] = dot * scale;
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < lk; ++j) sum += (s[j] = std::exp(s[j] - mx));
      for (int64_t d = 0; d < hd; ++d) {
        double acc = 0;
        for (int64_t j = 0; j < lk; ++j) acc += s[j] * v[j * w + h * hd + d];
        out[ri * w + h * hd + d] = acc / sum;
      }
    }
  }
  return out;
}

inline std::vector<int64_t> all_rows(int64_t n) {
  std::vector<int64_t> r(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) r[i] = i;
  return r;
}

}  // namespace qdit::test
