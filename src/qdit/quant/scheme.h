// The declaration of every runnable linear scheme: which tensors it reads (by suffix after the layer name),
// the dtypes and shapes it accepts, whether each is required or optional (with the explicit meaning of absence),
// how the loader decodes it and where it ends up in QuantLinear. This table is the ONLY list of suffixes in qdit:
// the load plan, the loader, `qdit inspect` and the quantizer (which writes the first accepted dtype and the first
// accepted shape of each tensor) all read it. Sources: modelslim-format.md §2, §3.6, §4.3.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "qdit/core/dtype.h"
#include "qdit/core/tensor.h"
#include "qdit/quant/linear.h"

namespace qdit::quant {

// A tensor's shape as a function of the layer's N (output features) and K (input features).
enum class ShapeRule : uint8_t {
  MatrixNK,      // [N, K]
  PackedAlongN,  // [N/2, K]: two int4 values per byte along N (W4A8 v1.0.0); N must be even
  PerChannel,    // [N, 1] (as ModelSlim writes it) or [N]
  VectorN,       // [N]
  Scalar,        // [1]
  ScaleBias,     // [N, 1] (column-parallel) or [N, 16] (row-parallel): W4A8 v1.0.0 scale_bias
};

// What the runtime does with a tensor it consumed.
enum class Use : uint8_t {
  Applied,           // bound into QuantLinear and used by ops::linear
  FoldedNotApplied,  // consumed but never applied: static W8A8's float bias is already inside quant_bias
  Verified,          // consumed only to check the checkpoint (zero offsets, W4A8 scale_bias, legacy W8A8 weight_scale)
};

// How the loader turns the stored tensor into its runtime form.
enum class Decode : uint8_t {
  AsStored,          // no conversion: int8 weights, int32 quant_bias, float weights in their stored dtype
  ToF32,             // F32 as is; BF16/F16 widened exactly to F32; [N,1] flattened to [N]
  DeqScale,          // I64: low 32 bits are the fp32 bit pattern (bit-decoded, never value-cast); F32 as is
  Int4Values,        // I8 [N,K] whose values must lie in [-8, 7] (checked at load)
  UnpackInt4AlongN,  // I8 [N/2,K] -> I8 [N,K]: low nibble = row 2j, high nibble = row 2j+1, sign-extended
};

// The QuantLinear field a tensor fills (None for tensors that are verified or folded, not applied).
enum class Slot : uint8_t { None, Weight, Bias, WeightScale, WeightOffset, InputScale, InputOffset, DeqScale, QuantBias };

struct ParamSpec {
  std::string_view suffix;   // "weight", "deq_scale", ... (the tensor is "<layer>.<suffix>")
  std::vector<DType> dtypes; // accepted on disk; the first is what a ModelSlim writer produces
  ShapeRule shape;
  bool required;
  std::string_view when_absent;  // for optional tensors: what absence means (never a silent fill)
  Use use;
  Decode decode;
  Slot slot;
};

struct SchemeDecl {
  SchemeId id;
  std::string_view name;       // the ModelSlim type string
  std::vector<ParamSpec> params;
  // W4A8_DYNAMIC: only the description version "1.0.0" layout (packed along N, per-channel) is run.
  bool requires_version_1 = false;
  // The format also has a per-group form of this scheme (scales [N, K/G]); qdit recognises it but does not run it.
  bool has_per_group_form = false;
  // weight_offset must be all zero (the op has no weight zero point for this scheme); checked at load.
  bool weight_offset_must_be_zero = false;
  // The static W8A8 input_offset must hold an integer in [-128, 127]; checked at load.
  bool input_offset_is_int8 = false;
};

// The declaration of a runnable scheme.
const SchemeDecl& scheme_decl(SchemeId id);
// All of them, in SchemeId order.
const std::vector<SchemeDecl>& scheme_decls();
// The spec with this suffix in `decl`, or nullptr.
const ParamSpec* find_param(const SchemeDecl& decl, std::string_view suffix);

// The shapes a rule accepts for a layer of N outputs and K inputs, the canonical (written) one first.
std::vector<Shape> accepted_shapes(ShapeRule rule, int64_t n, int64_t k);
bool shape_accepted(ShapeRule rule, int64_t n, int64_t k, const Shape& s);
// "[N, K]", "[N/2, K]", "[N] or [N, 1]" ... with the numbers filled in when n, k > 0.
std::string shape_rule_text(ShapeRule rule, int64_t n = 0, int64_t k = 0);
bool dtype_accepted(const ParamSpec& p, DType t);
// "I64 or F32".
std::string dtypes_text(const ParamSpec& p);

}  // namespace qdit::quant
