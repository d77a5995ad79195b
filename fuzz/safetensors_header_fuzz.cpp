// libFuzzer target for the safetensors parser. The input is a whole file image (8-byte length + header + data).
// The only acceptable outcomes are a validated image or a qdit::Error; anything else (another exception, a
// crash, a sanitizer report) is a bug. On success the validation guarantees are re-checked independently and
// every tensor's bytes are touched, so an unchecked range shows up as an ASan report.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "qdit/core/error.h"
#include "qdit/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  qdit::SafetensorsImage image;
  try {
    image = qdit::parse_safetensors_image(data, size, "<fuzz input>");
  } catch (const qdit::Error&) {
    return 0;
  }
  if (image.data_offset > size || image.data_size != size - image.data_offset) std::abort();
  uint64_t previous_end = 0;
  volatile uint8_t sink = 0;
  for (const qdit::TensorInfo& t : image.header.tensors) {
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) std::abort();
      numel *= static_cast<uint64_t>(d);
    }
    if (t.begin > t.end || t.end > image.data_size) std::abort();
    if (t.end - t.begin != numel * qdit::dtype_size(t.dtype)) std::abort();
    if (t.begin != t.end) {
      if (t.begin < previous_end) std::abort();  // overlapping ranges must have been rejected
      previous_end = t.end;
      const uint8_t* p = data + image.data_offset;
      sink = sink + p[t.begin] + p[t.end - 1];
    }
  }
  (void)sink;
  return 0;
}
