// LinearInput: which form a layer's GEMM consumes (linear_input_spec), storage for it, and the argument check
// every producer and consumer runs before any backend.
#include <cmath>
#include <cstring>

#include "qdit/core/error.h"
#include "qdit/ops/error_context.h"
#include "qdit/ops/op_args.h"
#include "qdit/ops/ops.h"

namespace qdit::ops {

const char* linear_input_form_name(LinearInputForm f) {
  switch (f) {
    case LinearInputForm::F32: return "F32";
    case LinearInputForm::BF16: return "BF16";
    case LinearInputForm::Int8PerToken: return "Int8PerToken";
    case LinearInputForm::Int8Static: return "Int8Static";
  }
  return "?";
}

bool LinearInputSpec::operator==(const LinearInputSpec& o) const {
  // Bitwise on the static parameters: two layers share an input only if quantizing with either gives the same
  // bytes, and -0.0 vs 0.0 offsets or NaN scales must not be judged by float comparison.
  return form == o.form && qmin == o.qmin && qmax == o.qmax &&
         std::memcmp(&input_scale, &o.input_scale, sizeof(float)) == 0 &&
         std::memcmp(&input_offset, &o.input_offset, sizeof(float)) == 0;
}

std::string LinearInputSpec::describe() const {
  // Appended piece by piece: "literal" + std::string trips a false -Wrestrict in g++ 12.
  std::string s = linear_input_form_name(form);
  if (form == LinearInputForm::Int8PerToken) {
    s.append("[").append(std::to_string(qmin)).append(",").append(std::to_string(qmax)).append("]");
  } else if (form == LinearInputForm::Int8Static) {
    s.append("(scale ").append(std::to_string(input_scale)).append(", offset ").append(std::to_string(input_offset));
    s.append(")");
  }
  return s;
}

LinearInputSpec linear_input_spec(const QuantLinear& w, Precision p, Device device) {
  LinearInputSpec s;
  if (device == Device::CPU) return s;
  switch (w.scheme) {
    case SchemeId::Float:
    case SchemeId::W8A16:
      s.form = p == Precision::BF16 ? LinearInputForm::BF16 : LinearInputForm::F32;
      return s;
    case SchemeId::W8A8:
      s.form = LinearInputForm::Int8Static;
      s.input_scale = w.input_scale;
      s.input_offset = w.input_offset;
      return s;
    case SchemeId::W8A8Dynamic:
    case SchemeId::W4A4Dynamic:
    case SchemeId::W4A8Dynamic:
      s.form = LinearInputForm::Int8PerToken;
      s.qmin = w.act_qmin();
      s.qmax = w.act_qmax();
      return s;
  }
  fail_internal("linear_input_spec: unknown scheme",
                expected_found("a SchemeId", std::to_string(static_cast<int>(w.scheme)), w.name));
}

DType linear_input_dtype(LinearInputForm f) {
  switch (f) {
    case LinearInputForm::F32: return DType::F32;
    case LinearInputForm::BF16: return DType::BF16;
    case LinearInputForm::Int8PerToken:
    case LinearInputForm::Int8Static: return DType::I8;
  }
  fail_internal("linear input: unknown form", expected_found("F32, BF16, Int8PerToken or Int8Static"));
}

LinearInput empty_linear_input(const LinearInputSpec& spec, int64_t tokens, int64_t features, Device device) {
  if (tokens < 0 || features < 0)
    fail_internal("empty_linear_input: negative size",
                  expected_found("tokens, features >= 0", std::to_string(tokens) + " x " + std::to_string(features)));
  LinearInput in;
  in.spec = spec;
  in.values = empty({tokens, features}, linear_input_dtype(spec.form), device);
  if (spec.form == LinearInputForm::Int8PerToken) in.token_scale = empty({tokens}, DType::F32, device);
  return in;
}

int64_t require_linear_input(const LinearInput& in, int64_t features, const char* op, const char* arg) {
  const std::string what = std::string(op) + ": " + arg;
  require_defined(in.values, op, arg);
  require_dtype(in.values, linear_input_dtype(in.spec.form), op, arg);
  if (in.values.ndim() != 2 || (features >= 0 && in.values.dim(1) != features))
    fail_internal(what + " must be [tokens, " + (features >= 0 ? std::to_string(features) : "features") + "]",
                  expected_found(in.spec.describe() + " [T, " + std::to_string(features) + "]",
                                 shape_str(in.values.shape())));
  const int64_t t = in.values.dim(0);
  const bool per_token = in.spec.form == LinearInputForm::Int8PerToken;
  if (per_token) {
    require_f32(in.token_scale, {t}, op, "token_scale");
    if (in.token_scale.device() != in.values.device())
      fail_internal(what + ": token_scale and values on different devices", expected_found("one device"));
    if (!(in.spec.qmin < 0 && in.spec.qmax > 0 && in.spec.qmin >= -128 && in.spec.qmax <= 127))
      fail_internal(what + ": per-token quantization range",
                    expected_found("qmin < 0 < qmax within int8", in.spec.describe()));
  } else if (in.token_scale.defined()) {
    fail_internal(what + ": token_scale given for a form without per-token scales",
                  expected_found("undefined token_scale", in.spec.describe()));
  }
  if (in.spec.form == LinearInputForm::Int8Static && !(in.spec.input_scale > 0.0f && in.spec.input_scale < INFINITY))
    fail_internal(what + ": static input_scale must be positive and finite",
                  expected_found("input_scale > 0", in.spec.describe()));
  return t;
}

}  // namespace qdit::ops
