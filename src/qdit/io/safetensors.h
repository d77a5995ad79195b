// safetensors files: header validation, a zero-copy mmap reader and a streaming writer.
//
// File format: 8-byte little-endian header length N, N bytes of JSON header, then the data area. The header maps
// each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets relative to the data area) and may
// carry "__metadata__" (string -> string). Every byte that reaches a caller has been validated first: a malformed
// file is a Checkpoint error naming the file and the tensor, never a crash.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "qdit/core/dtype.h"
#include "qdit/core/tensor.h"

namespace qdit {

struct TensorInfo {            // one entry of a safetensors header
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0, end = 0; // byte offsets inside the data area (after the 8-byte length + header)
};

struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;                    // sorted by begin offset
  std::map<std::string, std::string> metadata;        // "__metadata__" (string -> string), may be empty
};

// Headers above this size are rejected before any allocation (the bound the reference implementation uses too).
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// Validates a header blob fully (valid JSON object; every entry {dtype, shape, data_offsets}; known dtype among
// F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL F8_E4M3 F8_E5M2; non-negative dims with overflow-checked products;
// end-begin == numel*size; offsets inside [0, data_size]; no two ranges overlapping; no duplicate names;
// __metadata__ must be an object of strings). Throws qdit::Error(Checkpoint) naming `path` and the tensor.
SafetensorsHeader parse_safetensors_header(std::string_view header_json, uint64_t data_size, const std::string& path);

// A whole safetensors file image, validated: the header plus where its data area lies inside the image.
struct SafetensorsImage {
  SafetensorsHeader header;
  uint64_t data_offset = 0;  // 8 + header length
  uint64_t data_size = 0;    // image size - data_offset
};
// Parses an in-memory file image (8-byte length + header + data). Used by SafetensorsFile::open on the mapping
// and by the fuzzer. Checks the length prefix (present, <= kMaxSafetensorsHeaderBytes, inside the image) and then
// everything parse_safetensors_header checks.
SafetensorsImage parse_safetensors_image(const uint8_t* bytes, uint64_t size, const std::string& path);

class SafetensorsFile {        // mmap'd, read-only, validated at open; zero-copy views
 public:
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);   // Io error if unreadable, Checkpoint if malformed
  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return header_.tensors; }
  const TensorInfo* find(std::string_view name) const;                     // nullptr if absent
  // CPU tensor pointing into the mapping; keeps the mapping alive. The memory is mapped read-only: writing
  // through a view is a bug. When the data is not aligned for its dtype (no writer we know produces that, but
  // the format allows it) the result is a private aligned copy, because reading a misaligned element is
  // undefined behaviour.
  Tensor view(const TensorInfo& t) const;
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  uint64_t file_size() const { return file_size_; }

 private:
  SafetensorsFile() = default;
  std::string path_;
  std::shared_ptr<void> mapping_;  // owns the mmap; views share it
  const uint8_t* data_ = nullptr;  // start of the data area inside the mapping
  uint64_t data_size_ = 0;
  uint64_t file_size_ = 0;
  SafetensorsHeader header_;
  std::map<std::string, size_t, std::less<>> by_name_;  // name -> index into header_.tensors
};

// Writer. Streaming, so the quantizer never holds more than one layer: declare all tensors first, then write
// their bytes in declaration order; finish() checks every declared tensor was written exactly once.
// Misuse (write out of order, wrong byte count, declare after writing began, finish with tensors missing) is an
// Internal error; a failing write to disk is an Io error naming the file.
class SafetensorsWriter {
 public:
  explicit SafetensorsWriter(std::string path);
  ~SafetensorsWriter();  // without finish(): removes the temporary file, the target path is never touched
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  void set_metadata(std::map<std::string, std::string> m);
  void declare(const std::string& name, DType dtype, Shape shape);
  void write(const std::string& name, const void* bytes, size_t nbytes);   // must follow declaration order
  void finish();   // writes to path + ".tmp" then renames, so an interrupted write never leaves a half file

 private:
  struct Declared {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t begin = 0, end = 0;
  };
  void start_data();  // freezes declarations, lays the data out, writes the header
  void write_at(uint64_t offset, const void* bytes, size_t nbytes);

  std::string path_, tmp_path_;
  std::map<std::string, std::string> metadata_;
  std::vector<Declared> declared_;
  std::map<std::string, size_t, std::less<>> by_name_;
  size_t next_ = 0;          // index of the next tensor write() expects
  uint64_t data_offset_ = 0; // 8 + padded header length, once started
  uint64_t data_size_ = 0;
  int fd_ = -1;
  bool started_ = false, finished_ = false;
};

// Convenience for tests and small files.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace qdit
