#include "forward/reference_f64.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "util/activation_ref.h"

namespace qdit::wan::ref {

namespace {

double at(const Tensor& t, int64_t i) { return element_as_double(t, i); }

Mat from_tensor(const Tensor& t, int64_t rows, int64_t cols) {
  Mat m(rows, cols);
  for (int64_t i = 0; i < rows * cols; ++i) m.v[i] = at(t, i);
  return m;
}

// fp32 activation quantization exactly as the format defines it; nearbyint rounds half to even.
int64_t quantize_static(double x, float s, float o) {
  const float a = static_cast<float>(x) / s + o;
  return std::clamp<int64_t>(static_cast<int64_t>(std::nearbyint(a)), -128, 127);
}

Mat rounded_to_bf16(Mat m) {
  for (double& v : m.v) v = round_to_bf16(v);
  return m;
}

}  // namespace

double round_to_bf16(double v) {
  // Written out on the bits rather than taken from core/half.h, so that the reference stays independent.
  const float f = static_cast<float>(v);
  if (std::isnan(f)) return v;
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  const uint32_t keep = bits >> 16, dropped = bits & 0xffffu;
  uint32_t r = keep + ((dropped > 0x8000u || (dropped == 0x8000u && (keep & 1u))) ? 1u : 0u);
  r <<= 16;
  float out;
  std::memcpy(&out, &r, sizeof out);
  return out;
}

Mat reference_linear(const QuantLinear& l, const Mat& x_in, bool round_bf16) {
  const int64_t T = x_in.rows, N = l.out_features, K = l.in_features;
  if (x_in.cols != K) throw std::invalid_argument("reference_linear: K mismatch");
  Mat y(T, N);
  auto bias = [&](int64_t n) { return l.bias.defined() ? at(l.bias, n) : 0.0; };
  const bool float_gemm = l.scheme == SchemeId::Float || l.scheme == SchemeId::W8A16;
  const Mat x = round_bf16 && float_gemm ? rounded_to_bf16(x_in) : x_in;
  switch (l.scheme) {
    case SchemeId::Float:
      for (int64_t t = 0; t < T; ++t)
        for (int64_t n = 0; n < N; ++n) {
          double s = 0;
          for (int64_t k = 0; k < K; ++k) {
            const double w = at(l.weight, n * K + k);
            s += x.at(t, k) * (round_bf16 ? round_to_bf16(w) : w);
          }
          y.at(t, n) = s + bias(n);
        }
      break;
    case SchemeId::W8A16:
      for (int64_t t = 0; t < T; ++t)
        for (int64_t n = 0; n < N; ++n) {
          const double z = l.weight_offset.defined() ? at(l.weight_offset, n) : 0.0, s_w = at(l.weight_scale, n);
          double s = 0;
          for (int64_t k = 0; k < K; ++k) {
            double w = (at(l.weight, n * K + k) - z) * s_w;
            // The bf16 policy rounds the weight the forward dequantizes in fp32 (ops.h): ((float)W_q - z) * s.
            if (round_bf16)
              w = round_to_bf16(static_cast<float>(static_cast<float>(at(l.weight, n * K + k)) -
                                                   static_cast<float>(z)) *
                                static_cast<float>(s_w));
            s += x.at(t, k) * w;
          }
          y.at(t, n) = s + bias(n);
        }
      break;
    case SchemeId::W8A8:
      for (int64_t t = 0; t < T; ++t) {
        std::vector<int64_t> q(K);
        for (int64_t k = 0; k < K; ++k) q[k] = quantize_static(x.at(t, k), l.input_scale, l.input_offset);
        for (int64_t n = 0; n < N; ++n) {
          int64_t acc = 0;
          for (int64_t k = 0; k < K; ++k) acc += q[k] * static_cast<int64_t>(at(l.weight, n * K + k));
          y.at(t, n) = (static_cast<double>(acc) + at(l.quant_bias, n)) * at(l.deq_scale, n);
        }
      }
      break;
    case SchemeId::W8A8Dynamic:
    case SchemeId::W4A4Dynamic:
    case SchemeId::W4A8Dynamic: {
      const int qmax = l.scheme == SchemeId::W4A4Dynamic ? 7 : 127, qmin = -qmax - 1;
      for (int64_t t = 0; t < T; ++t) {
        // The per-token scale is an fp32 quantity in the format: max|x| / qmax, floored at FLT_EPSILON.
        float amax = 0.0f;
        for (int64_t k = 0; k < K; ++k) amax = std::max(amax, std::fabs(static_cast<float>(x.at(t, k))));
        const float s_t = std::max(amax / static_cast<float>(qmax), FLT_EPSILON);
        std::vector<int64_t> q(K);
        for (int64_t k = 0; k < K; ++k)
          q[k] = std::clamp<int64_t>(
              static_cast<int64_t>(std::nearbyint(static_cast<float>(x.at(t, k)) / s_t)), qmin, qmax);
        for (int64_t n = 0; n < N; ++n) {
          int64_t acc = 0;
          for (int64_t k = 0; k < K; ++k) acc += q[k] * static_cast<int64_t>(at(l.weight, n * K + k));
          y.at(t, n) = static_cast<double>(acc) * at(l.weight_scale, n) * static_cast<double>(s_t) + bias(n);
        }
      }
      break;
    }
  }
  return y;
}

namespace {

// Columns [first, first + count) of m.
Mat columns(const Mat& m, int64_t first, int64_t count) {
  Mat out(m.rows, count);
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < count; ++c) out.at(r, c) = m.at(r, first + c);
  return out;
}

// Plain LayerNorm of each row (biased variance); then either the affine weight/bias or (1 + scale) and shift.
Mat layer_norm(const Mat& x, double eps) {
  Mat y(x.rows, x.cols);
  for (int64_t r = 0; r < x.rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t c = 0; c < x.cols; ++c) mean += x.at(r, c);
    mean /= static_cast<double>(x.cols);
    for (int64_t c = 0; c < x.cols; ++c) var += (x.at(r, c) - mean) * (x.at(r, c) - mean);
    var /= static_cast<double>(x.cols);
    for (int64_t c = 0; c < x.cols; ++c) y.at(r, c) = (x.at(r, c) - mean) / std::sqrt(var + eps);
  }
  return y;
}

Mat affine(Mat y, const Tensor& w, const Tensor& b) {
  for (int64_t r = 0; r < y.rows; ++r)
    for (int64_t c = 0; c < y.cols; ++c) y.at(r, c) = y.at(r, c) * at(w, c) + at(b, c);
  return y;
}

// Per-token shift/scale rows ([L, D] each).
Mat modulate(Mat y, const Mat& shift, const Mat& scale) {
  for (int64_t r = 0; r < y.rows; ++r)
    for (int64_t c = 0; c < y.cols; ++c) y.at(r, c) = y.at(r, c) * (1.0 + scale.at(r, c)) + shift.at(r, c);
  return y;
}

void rms_norm(Mat& x, const Tensor& w, double eps) {
  for (int64_t r = 0; r < x.rows; ++r) {
    double ms = 0;
    for (int64_t c = 0; c < x.cols; ++c) ms += x.at(r, c) * x.at(r, c);
    ms /= static_cast<double>(x.cols);
    for (int64_t c = 0; c < x.cols; ++c) x.at(r, c) = x.at(r, c) / std::sqrt(ms + eps) * at(w, c);
  }
}

using test::gelu_erf_f64;
using test::gelu_tanh_f64;
using test::silu_f64;

Mat apply(Mat m, double (*f)(double)) {
  for (double& v : m.v) v = f(v);
  return m;
}

Mat add(Mat a, const Mat& b) {
  for (size_t i = 0; i < a.v.size(); ++i) a.v[i] += b.v[i];
  return a;
}

// softmax(q k^T * scale) v per head, all keys, no mask; round_bf16: q, k, v rounded first (the bf16 policy).
Mat attention(const Mat& q_in, const Mat& k_in, const Mat& v_in, int64_t heads, bool round_bf16) {
  const Mat q = round_bf16 ? rounded_to_bf16(q_in) : q_in;
  const Mat k = round_bf16 ? rounded_to_bf16(k_in) : k_in;
  const Mat v = round_bf16 ? rounded_to_bf16(v_in) : v_in;
  const int64_t hd = q.cols / heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  Mat out(q.rows, q.cols);
  std::vector<double> s(k.rows);
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < q.rows; ++i) {
      double mx = -INFINITY;
      for (int64_t j = 0; j < k.rows; ++j) {
        double d = 0;
        for (int64_t c = 0; c < hd; ++c) d += q.at(i, h * hd + c) * k.at(j, h * hd + c);
        s[j] = d * scale;
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < k.rows; ++j) sum += (s[j] = std::exp(s[j] - mx));
      for (int64_t c = 0; c < hd; ++c) {
        double o = 0;
        for (int64_t j = 0; j < k.rows; ++j) o += s[j] * v.at(j, h * hd + c);
        out.at(i, h * hd + c) = o / sum;
      }
    }
  return out;
}

// Rotates interleaved pairs (2p, 2p+1) of every head; pair p belongs to the frame axis for p < d_t/2, then the
// row axis (d_h/2 pairs), then the column axis, each with its own denominator.
void rope(Mat& x, int64_t heads, int64_t f, int64_t h, int64_t w) {
  const int64_t hd = x.cols / heads, d_hw = 2 * (hd / 6), d_t = hd - 2 * d_hw;
  for (int64_t fi = 0; fi < f; ++fi)
    for (int64_t hi = 0; hi < h; ++hi)
      for (int64_t wi = 0; wi < w; ++wi) {
        const int64_t tok = (fi * h + hi) * w + wi;
        for (int64_t p = 0; p < hd / 2; ++p) {
          double theta;
          if (p < d_t / 2)
            theta = fi * std::pow(10000.0, -2.0 * p / d_t);
          else if (p < d_t / 2 + d_hw / 2)
            theta = hi * std::pow(10000.0, -2.0 * (p - d_t / 2) / d_hw);
          else
            theta = wi * std::pow(10000.0, -2.0 * (p - d_t / 2 - d_hw / 2) / d_hw);
          for (int64_t head = 0; head < heads; ++head) {
            double& a = x.at(tok, head * hd + 2 * p);
            double& b = x.at(tok, head * hd + 2 * p + 1);
            const double a0 = a, b0 = b;
            a = a0 * std::cos(theta) - b0 * std::sin(theta);
            b = a0 * std::sin(theta) + b0 * std::cos(theta);
          }
        }
      }
}

Mat row_of(const Tensor& table, int64_t row, int64_t rows_out) {
  const int64_t D = table.dim(1);
  Mat m(rows_out, D);
  for (int64_t r = 0; r < rows_out; ++r)
    for (int64_t c = 0; c < D; ++c) m.at(r, c) = at(table, row * D + c);
  return m;
}

}  // namespace

std::vector<double> reference_forward(const WanWeights& w, const WanInputs& in, const ReferenceOptions& opt) {
  const WanConfig& c = w.config;
  const int64_t D = c.dim, Cin = c.in_channels, Cout = c.out_channels;
  const int64_t T = in.hidden_states.dim(1), H = in.hidden_states.dim(2), W = in.hidden_states.dim(3);
  const int64_t f = T, h = H / 2, wd = W / 2, L = f * h * wd;
  const double eps = c.eps;

  // Patchify as the Conv3d (1,2,2) it is: token vector in (c, kt, kh, kw) order.
  Mat patches(L, Cin * 4);
  for (int64_t fi = 0; fi < f; ++fi)
    for (int64_t hi = 0; hi < h; ++hi)
      for (int64_t wi = 0; wi < wd; ++wi)
        for (int64_t ch = 0; ch < Cin; ++ch)
          for (int64_t a = 0; a < 2; ++a)
            for (int64_t b = 0; b < 2; ++b)
              patches.at((fi * h + hi) * wd + wi, ch * 4 + a * 2 + b) =
                  at(in.hidden_states, ((ch * T + fi) * H + 2 * hi + a) * W + 2 * wi + b);
  // The bf16 policy's rounding; the time MLP and the head projection never round (fp32 in the forward).
  const bool bf = opt.bf16_policy;
  Mat x = reference_linear(w.patch_embed, patches, bf);

  // Time embedding per token (a [1] timestep applies to every token).
  Mat sinus(L, c.freq_dim);
  const int64_t half = c.freq_dim / 2;
  for (int64_t t = 0; t < L; ++t) {
    const double ts = at(in.timestep, in.timestep.numel() == 1 ? 0 : t);
    for (int64_t j = 0; j < half; ++j) {
      sinus.at(t, j) = std::cos(ts * std::pow(10000.0, -static_cast<double>(j) / half));
      sinus.at(t, half + j) = std::sin(ts * std::pow(10000.0, -static_cast<double>(j) / half));
    }
  }
  const Mat e = reference_linear(w.time_fc2, apply(reference_linear(w.time_fc1, sinus), silu_f64));
  const Mat e0 = reference_linear(w.time_proj, apply(e, silu_f64));  // [L, 6D], chunk k = columns kD..kD+D-1

  // Text: zero-padded to text_len rows before the MLP (or, for the negative check, only the valid rows).
  const int64_t n_text = opt.pad_text ? c.text_len : in.encoder_hidden_states.dim(0);
  Mat text_in(n_text, c.text_dim);
  for (int64_t i = 0; i < in.encoder_hidden_states.numel() && i < n_text * c.text_dim; ++i)
    text_in.v[i] = at(in.encoder_hidden_states, i);
  const Mat text =
      reference_linear(w.text_fc2, apply(reference_linear(w.text_fc1, text_in, bf), gelu_tanh_f64), bf);

  Mat image;
  if (c.has_image_branch) {
    Mat clip = from_tensor(in.encoder_hidden_states_image, c.image_tokens, c.image_dim);
    Mat hdn = apply(reference_linear(w.image_fc1,
                                     affine(layer_norm(clip, 1e-5), w.image_norm_in_w, w.image_norm_in_b), bf),
                    gelu_erf_f64);
    image =
        affine(layer_norm(reference_linear(w.image_fc2, hdn, bf), 1e-5), w.image_norm_out_w, w.image_norm_out_b);
  }

  const int64_t heads = c.num_heads;
  for (const WanBlockWeights& b : w.blocks) {
    std::vector<Mat> m(6, Mat(L, D));
    for (int k = 0; k < 6; ++k)
      for (int64_t t = 0; t < L; ++t)
        for (int64_t d = 0; d < D; ++d) m[k].at(t, d) = at(b.modulation, k * D + d) + e0.at(t, k * D + d);

    Mat y = modulate(layer_norm(x, eps), m[0], m[1]);
    const Mat qkv = reference_linear(b.self_qkv, y, bf);
    Mat q = columns(qkv, 0, D), k = columns(qkv, D, D), v = columns(qkv, 2 * D, D);
    rms_norm(q, b.self_norm_q, eps);
    rms_norm(k, b.self_norm_k, eps);
    rope(q, heads, f, h, wd);
    rope(k, heads, f, h, wd);
    Mat o = reference_linear(b.self_out, attention(q, k, v, heads, bf), bf);
    for (int64_t t = 0; t < L; ++t)
      for (int64_t d = 0; d < D; ++d) x.at(t, d) += o.at(t, d) * m[2].at(t, d);

    y = affine(layer_norm(x, eps), b.cross_norm_w, b.cross_norm_b);
    Mat cq = reference_linear(b.cross_q, y, bf);
    rms_norm(cq, b.cross_norm_q, eps);
    const Mat kv = reference_linear(b.cross_kv, text, bf);
    Mat tk = columns(kv, 0, D);
    rms_norm(tk, b.cross_norm_k, eps);
    Mat a = attention(cq, tk, columns(kv, D, D), heads, bf);
    if (c.has_image_branch) {
      const Mat ikv = reference_linear(b.cross_kv_img, image, bf);
      Mat ik = columns(ikv, 0, D);
      rms_norm(ik, b.cross_norm_k_img, eps);
      a = add(a, attention(cq, ik, columns(ikv, D, D), heads, bf));
    }
    x = add(x, reference_linear(b.cross_out, a, bf));

    y = modulate(layer_norm(x, eps), m[3], m[4]);
    o = reference_linear(b.ffn_down, apply(reference_linear(b.ffn_up, y, bf), gelu_tanh_f64), bf);
    for (int64_t t = 0; t < L; ++t)
      for (int64_t d = 0; d < D; ++d) x.at(t, d) += o.at(t, d) * m[5].at(t, d);
  }

  // Head: modulated with e (not e0).
  Mat shift = row_of(w.head_modulation, 0, L), scale = row_of(w.head_modulation, 1, L);
  shift = add(shift, e);
  scale = add(scale, e);
  const Mat out = reference_linear(w.proj_out, modulate(layer_norm(x, eps), shift, scale));

  // Unpatchify: channel fastest within the 2x2 patch.
  std::vector<double> y(static_cast<size_t>(Cout * T * H * W));
  for (int64_t fi = 0; fi < f; ++fi)
    for (int64_t hi = 0; hi < h; ++hi)
      for (int64_t wi = 0; wi < wd; ++wi)
        for (int64_t a = 0; a < 2; ++a)
          for (int64_t b = 0; b < 2; ++b)
            for (int64_t ch = 0; ch < Cout; ++ch)
              y[((ch * T + fi) * H + 2 * hi + a) * W + 2 * wi + b] =
                  out.at((fi * h + hi) * wd + wi, (a * 2 + b) * Cout + ch);
  return y;
}

double rel_l2(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) throw std::invalid_argument("rel_l2: size mismatch");
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(num / den);
}

std::vector<double> to_doubles(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) out[i] = at(t, i);
  return out;
}

}  // namespace qdit::wan::ref
