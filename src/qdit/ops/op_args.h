// Argument checks of the device dispatchers (ops/<op>.cpp). They run before any backend, so both backends see
// only well-formed calls. A failure here is a bug in the calling code (the loader and the model validate user
// data before any op runs), hence an Internal error naming the op, the argument, and expected vs found.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "qdit/core/tensor.h"
#include "qdit/ops/ops.h"
#include "qdit/quant/linear.h"

namespace qdit::ops {

struct NamedTensor {
  const char* name;
  const Tensor* tensor;
};

// A CUDA tensor reached a build without the CUDA backend: a Usage error (the user asked for a device qdit lacks).
[[noreturn]] void fail_no_cuda(const char* op);

// The device every defined tensor of `args` lives on; an error if they disagree or none is defined.
Device common_device(const char* op, std::initializer_list<NamedTensor> args);

void require_defined(const Tensor& t, const char* op, const char* arg);
void require_dtype(const Tensor& t, DType d, const char* op, const char* arg);
void require_shape(const Tensor& t, const Shape& s, const char* op, const char* arg);
// Defined, F32, exactly `s`.
void require_f32(const Tensor& t, const Shape& s, const char* op, const char* arg);
// Defined, F32, 2-D [rows, cols] (cols < 0: any width); returns rows.
int64_t require_f32_matrix(const Tensor& t, int64_t cols, const char* op, const char* arg);
// Activations that may be BF16 (attention inputs/outputs, a linear's output feeding them, the attention output
// feeding its projection): F32 on every device, or BF16 on CUDA at BF16 precision (a bf16 kernel would round them
// anyway, so the copy in bf16 carries the same values). 2-D [rows, cols] (cols < 0: any width); returns rows.
int64_t require_activation_matrix(const Tensor& t, int64_t cols, Device device, Precision p, const char* op,
                                  const char* arg);
// The output of a row op (rmsnorm, rmsnorm_rope) next to its F32 input x: x's shape, F32 (x itself for in place),
// or BF16 on CUDA (the values rounded to nearest even).
void require_row_output(const Tensor& x, const Tensor& out, Device device, const char* op);

// A per-token-group table [G, D] for `tokens` tokens: G divides tokens. Returns tokens per group.
int64_t require_group_table(const Tensor& t, int64_t tokens, int64_t d, const char* op, const char* arg);

// Every tensor a layer's scheme needs is present with the right dtype and shape (the loader guarantees this for
// checkpoints; this catches hand-built layers). Errors name the layer and scheme.
void require_valid_layer(const QuantLinear& w, const char* op);

// The dtype of a LinearInput's values in form `f`.
DType linear_input_dtype(LinearInputForm f);
// `in` is a well-formed LinearInput [T, features] (features < 0: any width): values of the form's dtype,
// token_scale F32 [T] exactly for Int8PerToken, a usable quantization range / static scale. Returns T.
int64_t require_linear_input(const LinearInput& in, int64_t features, const char* op, const char* arg);

}  // namespace qdit::ops
