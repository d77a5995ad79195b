// Validation of safetensors headers. Everything a later reader relies on (dtype, shape, byte range inside the
// data area, no aliasing between tensors) is checked here once, so views never need to re-check.
#include <algorithm>
#include <cstring>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "qdit/core/error.h"
#include "qdit/io/safetensors.h"

namespace qdit {

namespace {

using json = nlohmann::json;

// Real headers nest three levels deep; the bound keeps hostile input from building deep trees whose teardown
// would recurse.
constexpr int kMaxJsonDepth = 16;

std::string json_kind(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer: return "a negative integer " + v.dump();
    case json::value_t::number_unsigned: return "the integer " + v.dump();
    case json::value_t::number_float: return "the non-integer number " + v.dump();
    default: return "an unsupported JSON value";
  }
}

// A first, event-only pass over the text: rejects duplicate keys in any object (the JSON library would silently
// keep the last one) and nesting deeper than kMaxJsonDepth, and reports syntax errors with their position. It
// builds nothing, so it is cheap; the library's own callback parser was not used because it rescans a parent
// object each time a child object closes (quadratic on a header of thousands of tensors).
class StrictScan : public nlohmann::json_sax<json> {
 public:
  explicit StrictScan(const std::string& path) : path_(path) {}
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    enter();
    owners_.push_back(owners_.empty() ? std::string() : last_key_);
    keys_.emplace_back();
    return true;
  }
  bool key(string_t& k) override {
    last_key_ = k;
    if (!keys_.back().insert(k).second) {
      if (keys_.size() == 1) fail_checkpoint("duplicate tensor name in the safetensors header", file_context(path_, k));
      fail_checkpoint("duplicate key '" + k + "' in the safetensors header", file_context(path_, owners_.back()));
    }
    return true;
  }
  bool end_object() override {
    --depth_;
    keys_.pop_back();
    owners_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    enter();
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    fail_checkpoint("safetensors header is not valid JSON", file_context(path_, {}, "valid JSON", e.what()));
  }

 private:
  void enter() {
    if (++depth_ > kMaxJsonDepth)
      fail_checkpoint("safetensors header nests deeper than any valid header",
                      file_context(path_, {}, "at most " + std::to_string(kMaxJsonDepth) + " levels", "more"));
  }
  const std::string& path_;
  int depth_ = 0;
  std::vector<std::unordered_set<std::string>> keys_;  // keys seen, per open object
  std::vector<std::string> owners_;  // the key whose value each open object is ("" for the top level)
  std::string last_key_;
};

json parse_strict(std::string_view text, const std::string& path) {
  StrictScan scan(path);
  json::sax_parse(text.begin(), text.end(), &scan);
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {  // unreachable after the scan; kept so no library exception escapes
    fail_checkpoint("safetensors header is not valid JSON", file_context(path, {}, "valid JSON", e.what()));
  }
}

// A JSON integer in [0, limit]; anything else is a Checkpoint error about `what` of `tensor`.
uint64_t read_unsigned(const json& v, uint64_t limit, const std::string& what, const std::string& path,
                       const std::string& tensor) {
  if (!v.is_number_unsigned() || v.get<uint64_t>() > limit)
    fail_checkpoint("bad " + what + " in the safetensors header",
                    file_context(path, tensor, "an integer in [0, " + std::to_string(limit) + "]", json_kind(v)));
  return v.get<uint64_t>();
}

TensorInfo parse_entry(const std::string& name, const json& entry, uint64_t data_size, const std::string& path) {
  if (name.empty()) fail_checkpoint("empty tensor name in the safetensors header", file_context(path));
  if (!entry.is_object())
    fail_checkpoint("bad tensor entry in the safetensors header",
                    file_context(path, name, "an object {dtype, shape, data_offsets}", json_kind(entry)));
  for (const auto& [key, value] : entry.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      fail_checkpoint("unexpected key '" + key + "' in a tensor entry of the safetensors header",
                      file_context(path, name, "only dtype, shape, data_offsets", "'" + key + "'"));
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(key))
      fail_checkpoint(std::string("tensor entry lacks '") + key + "' in the safetensors header", file_context(path, name));

  TensorInfo info;
  info.name = name;

  const json& dtype = entry["dtype"];
  if (!dtype.is_string())
    fail_checkpoint("bad dtype in the safetensors header", file_context(path, name, "a dtype string", json_kind(dtype)));
  auto parsed = parse_dtype(dtype.get_ref<const std::string&>());
  if (!parsed)
    fail_checkpoint("unknown dtype in the safetensors header",
                    file_context(path, name, "one of F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL F8_E4M3 F8_E5M2",
                       "'" + dtype.get<std::string>() + "'"));
  info.dtype = *parsed;

  const json& shape = entry["shape"];
  if (!shape.is_array())
    fail_checkpoint("bad shape in the safetensors header", file_context(path, name, "an array of dimensions", json_kind(shape)));
  uint64_t numel = 1;
  for (const json& d : shape) {
    uint64_t dim = read_unsigned(d, static_cast<uint64_t>(INT64_MAX), "shape dimension", path, name);
    info.shape.push_back(static_cast<int64_t>(dim));
    if (__builtin_mul_overflow(numel, dim, &numel) || numel > static_cast<uint64_t>(INT64_MAX))
      fail_checkpoint("shape in the safetensors header has more elements than can be addressed",
                      file_context(path, name, "a product of dimensions below 2^63", "shape " + shape.dump()));
  }
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(info.dtype)), &nbytes))
    fail_checkpoint("tensor size in the safetensors header overflows",
                    file_context(path, name, "a byte size below 2^64", "shape " + shape.dump()));

  const json& offsets = entry["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2)
    fail_checkpoint("bad data_offsets in the safetensors header",
                    file_context(path, name, "[begin, end]", offsets.is_array() ? offsets.dump() : json_kind(offsets)));
  info.begin = read_unsigned(offsets[0], UINT64_MAX, "data_offsets begin", path, name);
  info.end = read_unsigned(offsets[1], UINT64_MAX, "data_offsets end", path, name);
  if (info.end < info.begin)
    fail_checkpoint("data_offsets end before they begin in the safetensors header",
                    file_context(path, name, "begin <= end", offsets.dump()));
  if (info.end > data_size)
    fail_checkpoint("tensor data lies past the end of the data area (truncated file?)",
                    file_context(path, name, "end <= " + std::to_string(data_size) + " (data area size)",
                       "data_offsets " + offsets.dump()));
  if (info.end - info.begin != nbytes)
    fail_checkpoint("tensor byte size does not match its dtype and shape",
                    file_context(path, name,
                       std::to_string(nbytes) + " bytes (" + std::string(dtype_name(info.dtype)) + " " +
                           shape_str(info.shape) + ")",
                       std::to_string(info.end - info.begin) + " bytes (data_offsets " + offsets.dump() + ")"));
  return info;
}

std::map<std::string, std::string> parse_metadata(const json& m, const std::string& path) {
  if (!m.is_object())
    fail_checkpoint("__metadata__ of the safetensors header must be an object of strings",
                    file_context(path, "__metadata__", "an object", json_kind(m)));
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : m.items()) {
    if (!value.is_string())
      fail_checkpoint("__metadata__ value of '" + key + "' is not a string",
                      file_context(path, "__metadata__", "a string", json_kind(value)));
    out.emplace(key, value.get<std::string>());
  }
  return out;
}

// Ranges are sorted by begin; an empty range holds no byte, so it cannot overlap anything.
void check_no_overlap(const std::vector<TensorInfo>& sorted, const std::string& path) {
  const TensorInfo* furthest = nullptr;  // the non-empty range seen so far that ends last
  for (const TensorInfo& t : sorted) {
    if (t.begin == t.end) continue;
    if (furthest && t.begin < furthest->end)
      fail_checkpoint("tensor data overlaps tensor '" + furthest->name + "' in the safetensors data area",
                      file_context(path, t.name, "begin >= " + std::to_string(furthest->end),
                         "[" + std::to_string(t.begin) + ", " + std::to_string(t.end) + ")"));
    if (!furthest || t.end > furthest->end) furthest = &t;
  }
}

}  // namespace

SafetensorsHeader parse_safetensors_header(std::string_view header_json, uint64_t data_size,
                                           const std::string& path) {
  json root = parse_strict(header_json, path);
  if (!root.is_object())
    fail_checkpoint("safetensors header is not a JSON object", file_context(path, {}, "an object", json_kind(root)));
  SafetensorsHeader header;
  header.tensors.reserve(root.size());
  for (const auto& [name, entry] : root.items()) {
    if (name == "__metadata__")
      header.metadata = parse_metadata(entry, path);
    else
      header.tensors.push_back(parse_entry(name, entry, data_size, path));
  }
  std::sort(header.tensors.begin(), header.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end < b.end;
    return a.name < b.name;
  });
  check_no_overlap(header.tensors, path);
  return header;
}

SafetensorsImage parse_safetensors_image(const uint8_t* bytes, uint64_t size, const std::string& path) {
  if (size < 8)
    fail_checkpoint("file too short for a safetensors header length (truncated file?)",
                    file_context(path, {}, "at least 8 bytes", std::to_string(size) + " bytes"));
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];  // little-endian on any host
  if (header_len > kMaxSafetensorsHeaderBytes)
    fail_checkpoint("safetensors header length is absurdly large (corrupt or not a safetensors file)",
                    file_context(path, {}, "at most " + std::to_string(kMaxSafetensorsHeaderBytes) + " bytes (100 MB)",
                       std::to_string(header_len) + " bytes"));
  if (header_len > size - 8)
    fail_checkpoint("safetensors header length runs past the end of the file (truncated file?)",
                    file_context(path, {}, "at most " + std::to_string(size - 8) + " bytes (file size " +
                                     std::to_string(size) + " - 8)",
                       std::to_string(header_len) + " bytes"));
  SafetensorsImage image;
  image.data_offset = 8 + header_len;
  image.data_size = size - image.data_offset;
  std::string_view text(reinterpret_cast<const char*>(bytes + 8), header_len);
  image.header = parse_safetensors_header(text, image.data_size, path);
  return image;
}

}  // namespace qdit
