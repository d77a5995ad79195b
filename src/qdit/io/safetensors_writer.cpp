// The streaming writer. Tensors are written in declaration order, but laid out in the data area by decreasing
// element size (as safetensors' own writers do), so that with an 8-byte aligned data area every tensor is aligned
// for its dtype and the reader can hand out zero-copy views. The layout has no holes, which strict readers of
// the format require.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <numeric>

#include <nlohmann/json.hpp>

#include "qdit/core/error.h"
#include "qdit/io/safetensors.h"

namespace qdit {

SafetensorsWriter::SafetensorsWriter(std::string path) : path_(std::move(path)), tmp_path_(path_ + ".tmp") {}

SafetensorsWriter::~SafetensorsWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (started_ && !finished_) ::unlink(tmp_path_.c_str());
}

void SafetensorsWriter::set_metadata(std::map<std::string, std::string> m) {
  if (started_) fail_internal("SafetensorsWriter: set_metadata after writing began", file_context(path_));
  metadata_ = std::move(m);
}

void SafetensorsWriter::declare(const std::string& name, DType dtype, Shape shape) {
  if (started_) fail_internal("SafetensorsWriter: declare after writing began", file_context(path_, name));
  if (name.empty() || name == "__metadata__")
    fail_internal("SafetensorsWriter: invalid tensor name", file_context(path_, name));
  for (int64_t d : shape)
    if (d < 0) fail_internal("SafetensorsWriter: negative dimension", file_context(path_, name, {}, shape_str(shape)));
  if (!by_name_.emplace(name, declared_.size()).second)
    fail_internal("SafetensorsWriter: tensor declared twice", file_context(path_, name));
  declared_.push_back(Declared{name, dtype, std::move(shape)});
}

void SafetensorsWriter::start_data() {
  started_ = true;
  // Stable: among equal element sizes the declaration order is kept, so files are reproducible.
  std::vector<size_t> order(declared_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [this](size_t a, size_t b) {
    return dtype_size(declared_[a].dtype) > dtype_size(declared_[b].dtype);
  });
  uint64_t offset = 0;
  for (size_t i : order) {
    Declared& d = declared_[i];
    d.begin = offset;
    offset += static_cast<uint64_t>(shape_numel(d.shape)) * dtype_size(d.dtype);
    d.end = offset;
  }
  data_size_ = offset;

  nlohmann::json header = nlohmann::json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  for (const Declared& d : declared_)
    header[d.name] = {{"dtype", std::string(dtype_name(d.dtype))}, {"shape", d.shape},
                      {"data_offsets", {d.begin, d.end}}};
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    fail_internal("SafetensorsWriter: header cannot be serialised (tensor name not UTF-8?)",
                  file_context(path_, {}, {}, e.what()));
  }
  // Spaces pad the header so the data area starts 8-byte aligned in the file (and so in any mapping of it).
  text.append((8 - text.size() % 8) % 8, ' ');
  data_offset_ = 8 + text.size();

  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail_io("cannot create file: " + std::string(std::strerror(errno)), file_context(tmp_path_));
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(text.size() >> (8 * i));
  write_at(0, len, 8);
  write_at(8, text.data(), text.size());
}

void SafetensorsWriter::write_at(uint64_t offset, const void* bytes, size_t nbytes) {
  const char* p = static_cast<const char*>(bytes);
  while (nbytes > 0) {
    ssize_t n = ::pwrite(fd_, p, nbytes, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail_io("write failed: " + std::string(n < 0 ? std::strerror(errno) : "no progress"), file_context(tmp_path_));
    p += n;
    offset += static_cast<uint64_t>(n);
    nbytes -= static_cast<size_t>(n);
  }
}

void SafetensorsWriter::write(const std::string& name, const void* bytes, size_t nbytes) {
  if (finished_) fail_internal("SafetensorsWriter: write after finish", file_context(path_, name));
  if (!started_) start_data();
  if (next_ >= declared_.size() || declared_[next_].name != name) {
    std::string expected = next_ < declared_.size() ? "'" + declared_[next_].name + "' (declaration order)"
                                                    : "no more tensors";
    fail_internal(by_name_.count(name) ? "SafetensorsWriter: tensor written out of declaration order or twice"
                                       : "SafetensorsWriter: tensor was never declared",
                  file_context(path_, name, expected, "'" + name + "'"));
  }
  const Declared& d = declared_[next_];
  if (nbytes != d.end - d.begin)
    fail_internal("SafetensorsWriter: byte count does not match the declared dtype and shape",
                  file_context(path_, name, std::to_string(d.end - d.begin) + " bytes", std::to_string(nbytes) + " bytes"));
  if (nbytes) write_at(data_offset_ + d.begin, bytes, nbytes);
  ++next_;
}

void SafetensorsWriter::finish() {
  if (finished_) fail_internal("SafetensorsWriter: finish called twice", file_context(path_));
  if (!started_) start_data();
  if (next_ != declared_.size())
    fail_internal("SafetensorsWriter: finish before every declared tensor was written",
                  file_context(path_, declared_[next_].name, std::to_string(declared_.size()) + " tensors",
                          std::to_string(next_) + " written"));
  // Zero-byte tensors at the end of the layout are never written, so the size is set explicitly.
  if (::ftruncate(fd_, static_cast<off_t>(data_offset_ + data_size_)) != 0 || ::fsync(fd_) != 0)
    fail_io("cannot complete file: " + std::string(std::strerror(errno)), file_context(tmp_path_));
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) fail_io("cannot close file: " + std::string(std::strerror(errno)), file_context(tmp_path_));
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0)
    fail_io("cannot rename " + tmp_path_ + " into place: " + std::string(std::strerror(errno)), file_context(path_));
  finished_ = true;
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  SafetensorsWriter w(path);
  w.set_metadata(metadata);
  for (const auto& [name, t] : tensors) {
    if (t.device() != Device::CPU || !t.defined())
      fail_internal("write_safetensors needs defined CPU tensors", file_context(path, name));
    w.declare(name, t.dtype(), t.shape());
  }
  for (const auto& [name, t] : tensors) w.write(name, t.raw(), t.nbytes());
  w.finish();
}

}  // namespace qdit
