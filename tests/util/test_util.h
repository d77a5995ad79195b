// Helpers shared by every test folder: temporary folders, JSON files, deterministic random data and small
// tensors. Deliberately tiny: anything specific to one area belongs in that area's tests.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qdit/core/tensor.h"

namespace qdit::test {

// A fresh folder under $TMPDIR (or /tmp), removed with everything in it when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path()/relative, creating the parent folders of that file (so tests can write "a/b/c.json" directly).
  std::string file(const std::string& relative) const;

 private:
  std::string path_;
};

// Writes `j` (pretty-printed) to `path`, creating parent folders; throws std::runtime_error on failure.
void write_json(const std::string& path, const nlohmann::json& j);
// Writes raw bytes/text to `path`, creating parent folders; throws std::runtime_error on failure.
void write_text(const std::string& path, const std::string& bytes);
std::string read_text(const std::string& path);

// Deterministic on every platform (std:: distributions are not): xoshiro256** seeded by splitmix64,
// Box-Muller normals.
class Rng {
 public:
  explicit Rng(uint64_t seed = 1);
  uint64_t next_u64();
  double uniform();                       // [0, 1)
  double uniform(double lo, double hi);   // [lo, hi)
  double normal();                        // N(0, 1)
  int64_t integer(int64_t lo, int64_t hi);  // uniform in [lo, hi], inclusive

 private:
  uint64_t s_[4];
  double spare_normal_ = 0;
  bool has_spare_ = false;
};

// F32 tensors filled with N(mean, stddev) or U[lo, hi) draws, in row-major order.
Tensor random_normal_f32(const Shape& shape, Rng& rng, double mean = 0.0, double stddev = 1.0);
Tensor random_uniform_f32(const Shape& shape, Rng& rng, double lo = -1.0, double hi = 1.0);
// An F32 tensor holding exactly `values` (row-major); throws std::invalid_argument if the count is wrong.
Tensor make_tensor_f32(const Shape& shape, const std::vector<float>& values);

}  // namespace qdit::test
