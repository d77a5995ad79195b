// The mmap reader. The whole file is mapped once; views point into the mapping and share its lifetime, so a
// 28 GB checkpoint costs no copies and only the pages a consumer touches are ever read.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "qdit/core/error.h"
#include "qdit/io/safetensors.h"

namespace qdit {

namespace {

// Closes the descriptor on every path out of open().
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  // O_NONBLOCK: opening a FIFO by mistake must fail the regular-file check below, not hang.
  FdGuard fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (fd.fd < 0) fail_io("cannot open safetensors file: " + std::string(std::strerror(errno)), file_context(path));
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0)
    fail_io("cannot stat safetensors file: " + std::string(std::strerror(errno)), file_context(path));
  if (!S_ISREG(st.st_mode)) fail_io("not a regular file", file_context(path));

  auto file = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
  file->path_ = path;
  file->file_size_ = static_cast<uint64_t>(st.st_size);
  if (file->file_size_ < 8) {
    // mmap cannot map an empty file; the image parser reports the short file with the usual message.
    uint8_t small[8] = {};
    ssize_t got = ::pread(fd.fd, small, sizeof small, 0);
    parse_safetensors_image(small, got > 0 ? static_cast<uint64_t>(got) : 0, path);
    fail_internal("a file of fewer than 8 bytes passed safetensors validation", file_context(path));
  }

  void* base = ::mmap(nullptr, file->file_size_, PROT_READ, MAP_PRIVATE, fd.fd, 0);
  if (base == MAP_FAILED)
    fail_io("cannot mmap safetensors file: " + std::string(std::strerror(errno)), file_context(path));
  uint64_t mapped_size = file->file_size_;
  file->mapping_ = std::shared_ptr<void>(base, [mapped_size](void* p) { ::munmap(p, mapped_size); });

  auto image = parse_safetensors_image(static_cast<const uint8_t*>(base), file->file_size_, path);
  file->data_ = static_cast<const uint8_t*>(base) + image.data_offset;
  file->data_size_ = image.data_size;
  file->header_ = std::move(image.header);
  for (size_t i = 0; i < file->header_.tensors.size(); ++i) file->by_name_.emplace(file->header_.tensors[i].name, i);
  return file;
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &header_.tensors[it->second];
}

Tensor SafetensorsFile::view(const TensorInfo& t) const {
  // A TensorInfo from elsewhere (a copy, another file) must not become an out-of-bounds view.
  uint64_t nbytes = static_cast<uint64_t>(shape_numel(t.shape)) * dtype_size(t.dtype);
  if (t.end > data_size_ || t.begin > t.end || t.end - t.begin != nbytes)
    fail_internal("SafetensorsFile::view called with a TensorInfo that does not describe this file", file_context(path_, t.name));
  const uint8_t* p = data_ + t.begin;
  if (reinterpret_cast<uintptr_t>(p) % dtype_size(t.dtype) != 0) {
    Tensor copy = Tensor::empty(t.shape, t.dtype);
    if (nbytes) std::memcpy(copy.raw(), p, nbytes);
    return copy;
  }
  return Tensor::view(const_cast<uint8_t*>(p), t.shape, t.dtype, mapping_);
}

}  // namespace qdit
