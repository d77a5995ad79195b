// Format tests of qdit quantize: every written quantity re-derived here, plainly, from the float weights and from
// activation ranges collected by this test's own observer -- s_w, W_q, deq_scale (int64 bit pattern or f32),
// quant_bias, input_scale/offset, the description entries and metadata, and the file names of each layout.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>

#include "qdit/core/half.h"
#include "qdit/models/wan/rules.h"
#include "qdit/models/wan/schema.h"
#include "qdit/quantize/quantizer.h"
#include "quantize_fixture.h"

namespace qdit::quantize {
namespace {

namespace fs = std::filesystem;

struct Range {
  float lo = INFINITY, hi = -INFINITY;
};

// min/max of each canonical layer's input over the calibration files, with the test's own bookkeeping.
std::map<std::string, Range> reference_ranges(const std::string& float_model, const std::vector<std::string>& files) {
  const load::ComponentPlan plan = qtest::plan_one(float_model);
  const wan::WanWeights w = load::load_weights(plan);
  std::map<std::string, Range> by_runtime;
  for (const auto& f : files) {
    wan::ForwardOptions fo;
    fo.observer = [&](const std::string& layer, const Tensor& x) {
      Range& r = by_runtime[layer];
      for (int64_t i = 0; i < x.numel(); ++i) {
        r.lo = std::min(r.lo, x.data<float>()[i]);
        r.hi = std::max(r.hi, x.data<float>()[i]);
      }
    };
    wan::wan_forward(w, wan::read_run_inputs(f, plan.config), fo);
  }
  std::map<std::string, Range> out;
  for (const auto& l : plan.linears)
    for (const auto& s : l.shards) out[s.canonical] = by_runtime.at(l.runtime);
  return out;
}

float rne(float x) { return std::nearbyint(x); }

std::vector<float> row_f32(const Tensor& t, int64_t row, int64_t k) {
  std::vector<float> v(k);
  for (int64_t i = 0; i < k; ++i) v[i] = static_cast<float>(element_as_double(t, row * k + i));
  return v;
}

struct Written {
  std::shared_ptr<SafetensorsFile> file;
  nlohmann::ordered_json desc;
  const TensorInfo& at(const std::string& name) const {
    const TensorInfo* t = file->find(name);
    if (!t) throw std::runtime_error("missing tensor " + name);
    return *t;
  }
  Tensor view(const std::string& name) const { return file->view(at(name)); }
};

Written open_output(const std::string& dir, const std::string& weights, const std::string& description) {
  EXPECT_TRUE(fs::exists(dir + "/" + weights)) << weights;
  EXPECT_TRUE(fs::exists(dir + "/" + description)) << description;
  EXPECT_TRUE(fs::exists(dir + "/config.json"));
  return {SafetensorsFile::open(dir + "/" + weights), qtest::read_json(dir + "/" + description)};
}

// Every tensor of the file is in the description and every description entry is a tensor of the file.
void expect_description_is_the_index(const Written& w, bool ascendv1) {
  std::set<std::string> in_file, in_desc;
  for (const auto& t : w.file->tensors()) in_file.insert(t.name);
  for (auto it = w.desc.begin(); it != w.desc.end(); ++it) {
    if (it.key() == "model_quant_type" || it.key() == "version" || it.key() == "group_size" || it.key() == "metadata")
      continue;
    in_desc.insert(it.key());
  }
  EXPECT_EQ(in_file, in_desc);
  EXPECT_EQ(w.desc.contains("version"), ascendv1);
  EXPECT_EQ(w.desc.contains("group_size"), ascendv1);
  if (ascendv1) {
    EXPECT_EQ(w.desc["version"], "1.0.0");
    EXPECT_EQ(w.desc["group_size"], 0);
  }
}

class QuantizeFormat : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = qtest::tiny_synth(tmp_.path() + "/float");
    synthesize(model_);
    calib_ = {qtest::write_inputs(tmp_.path() + "/c1.safetensors", model_, 1, 900.0f),
              qtest::write_inputs(tmp_.path() + "/c2.safetensors", model_, 2, 100.0f)};
    src_ = SafetensorsFile::open(model_.out + "/diffusion_pytorch_model.safetensors");
    schema_ = wan::build_schema(synth_config(model_));
  }

  QuantizeReport run(SchemeId scheme, OutputLayout layout, const std::string& out,
                     std::vector<std::string> excludes = {}, std::optional<NameSpace> names = {}) {
    QuantizeOptions o;
    o.src = model_.out;
    o.out = tmp_.path() + "/" + out;
    o.scheme = scheme;
    o.layout = layout;
    o.excludes = std::move(excludes);
    o.names = names;
    if (scheme == SchemeId::W8A8) o.calibration = calib_;
    return quantize_checkpoint(o);
  }

  std::vector<const wan::LinearDecl*> quantizable() const {
    std::vector<const wan::LinearDecl*> v;
    for (const auto& l : schema_.linears)
      if (l.quantizable) v.push_back(&l);
    return v;
  }

  test::TempDir tmp_;
  SynthOptions model_;
  std::vector<std::string> calib_;
  std::shared_ptr<SafetensorsFile> src_;
  wan::WanSchema schema_;
};

// s_w and W_q of one layer, recomputed and compared exactly; returns sum_k W_q per row.
std::vector<int64_t> expect_weight(const Tensor& src_w, const Tensor& q, const Tensor& scale, int qmax) {
  const int64_t n = src_w.dim(0), k = src_w.dim(1);
  EXPECT_EQ(q.dtype(), DType::I8);
  EXPECT_EQ(q.shape(), (Shape{n, k}));
  EXPECT_EQ(scale.shape(), (Shape{n, 1}));
  std::vector<int64_t> sums(n, 0);
  for (int64_t r = 0; r < n; ++r) {
    const std::vector<float> w = row_f32(src_w, r, k);
    float amax = 0;
    for (float x : w) amax = std::max(amax, std::fabs(x));
    const float s = amax / static_cast<float>(qmax);
    EXPECT_EQ(scale.data<float>()[r], s) << "row " << r;
    for (int64_t i = 0; i < k; ++i) {
      const int want = static_cast<int>(std::min(std::max(rne(w[i] / s), -128.0f), static_cast<float>(qmax)));
      const int got = q.data<int8_t>()[r * k + i];
      if (got != want) {
        ADD_FAILURE() << "W_q[" << r << "," << i << "] = " << got << ", expected " << want;
        return sums;
      }
      sums[r] += got;
    }
  }
  return sums;
}

TEST_F(QuantizeFormat, DynamicAscendV1EveryTensorRederived) {
  const QuantizeReport rep = run(SchemeId::W8A8Dynamic, OutputLayout::AscendV1, "dyn", {"*ffn.net.2*"});
  ASSERT_EQ(rep.components.size(), 1u);
  EXPECT_TRUE(rep.warnings.empty());
  const Written w = open_output(tmp_.path() + "/dyn", "quant_model_weights.safetensors", "quant_model_description.json");
  expect_description_is_the_index(w, true);
  EXPECT_EQ(w.desc["model_quant_type"], "W8A8_DYNAMIC");
  EXPECT_TRUE(w.desc["metadata"].is_object());
  int quantized = 0, excluded = 0;
  for (const wan::LinearDecl* l : quantizable()) {
    const std::string L = l->canonical;
    const bool is_excluded = L.find("ffn.net.2") != std::string::npos;
    const Tensor src_w = src_->view(*src_->find(L + ".weight"));
    if (is_excluded) {
      ++excluded;
      // Excluded layers are copied byte for byte and typed FLOAT.
      const Tensor out = w.view(L + ".weight");
      EXPECT_EQ(out.dtype(), DType::F32);
      EXPECT_EQ(std::memcmp(out.raw(), src_w.raw(), out.nbytes()), 0);
      EXPECT_EQ(w.desc[L + ".weight"], "FLOAT");
      EXPECT_EQ(w.file->find(L + ".weight_scale"), nullptr);
      continue;
    }
    ++quantized;
    expect_weight(src_w, w.view(L + ".weight"), w.view(L + ".weight_scale"), 127);
    const Tensor off = w.view(L + ".weight_offset");
    EXPECT_EQ(off.shape(), (Shape{l->out_features, 1}));
    for (int64_t i = 0; i < off.numel(); ++i) EXPECT_EQ(off.data<float>()[i], 0.0f);
    for (const char* s : {".weight", ".weight_scale", ".weight_offset"}) EXPECT_EQ(w.desc[L + s], "W8A8_DYNAMIC");
    EXPECT_EQ(w.desc[L + ".bias"], "FLOAT");
    const Tensor b = w.view(L + ".bias"), sb = src_->view(*src_->find(L + ".bias"));
    EXPECT_EQ(b.dtype(), DType::F32);
    EXPECT_EQ(std::memcmp(b.raw(), sb.raw(), b.nbytes()), 0);
    // Static-only tensors are absent.
    EXPECT_EQ(w.file->find(L + ".deq_scale"), nullptr);
    EXPECT_EQ(w.file->find(L + ".input_scale"), nullptr);
  }
  EXPECT_EQ(quantized, 2 * 9 + 1);  // per block q,k,v,o x2 + ffn up; plus proj_out
  EXPECT_EQ(excluded, 2);
  EXPECT_EQ(rep.components[0].quantized_layers, quantized);
  // Non-quantizable parameters: FLOAT and byte-identical to the source.
  for (const wan::ParamDecl& p : schema_.params) {
    if (p.layer.rfind("blocks.", 0) == 0 && p.role != wan::ParamRole::Norm && p.role != wan::ParamRole::NormBias &&
        p.role != wan::ParamRole::Modulation)
      continue;
    if (p.layer == "proj_out") continue;
    EXPECT_EQ(w.desc[p.canonical], "FLOAT") << p.canonical;
    const Tensor a = w.view(p.canonical), b = src_->view(*src_->find(p.canonical));
    EXPECT_EQ(a.shape(), b.shape());
    EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0) << p.canonical;
  }
}

TEST_F(QuantizeFormat, StaticW8A8FromCalibrationStatistics) {
  run(SchemeId::W8A8, OutputLayout::AscendV1, "static");
  const Written w =
      open_output(tmp_.path() + "/static", "quant_model_weights.safetensors", "quant_model_description.json");
  expect_description_is_the_index(w, true);
  EXPECT_EQ(w.desc["model_quant_type"], "W8A8");
  const auto ranges = reference_ranges(model_.out, calib_);
  for (const wan::LinearDecl* l : quantizable()) {
    const std::string L = l->canonical;
    const Range& r = ranges.at(L);
    const float lo = std::min(r.lo, 0.0f), hi = std::max(r.hi, 0.0f);
    const float sx = std::max((hi - lo) / 255.0f, FLT_EPSILON);
    const float ox = rne(-lo / sx) - 128.0f;
    const Tensor is = w.view(L + ".input_scale"), io = w.view(L + ".input_offset");
    ASSERT_EQ(is.shape(), (Shape{1}));
    ASSERT_EQ(io.dtype(), DType::F32);
    EXPECT_EQ(is.data<float>()[0], sx) << L;
    EXPECT_EQ(io.data<float>()[0], ox) << L;
    EXPECT_GE(ox, -128.0f);
    EXPECT_LE(ox, 127.0f);
    // AscendV1 static W8A8 carries no weight_scale / weight_offset: recompute s_w from the weights.
    EXPECT_EQ(w.file->find(L + ".weight_scale"), nullptr);
    EXPECT_EQ(w.file->find(L + ".weight_offset"), nullptr);
    const Tensor src_w = src_->view(*src_->find(L + ".weight"));
    const int64_t n = src_w.dim(0), k = src_w.dim(1);
    Tensor sw = Tensor::empty({n, 1}, DType::F32);
    for (int64_t row = 0; row < n; ++row) {
      float amax = 0;
      for (float x : row_f32(src_w, row, k)) amax = std::max(amax, std::fabs(x));
      sw.data<float>()[row] = amax / 127.0f;
    }
    const std::vector<int64_t> sums = expect_weight(src_w, w.view(L + ".weight"), sw, 127);
    const Tensor deq = w.view(L + ".deq_scale"), qb = w.view(L + ".quant_bias");
    ASSERT_EQ(deq.dtype(), DType::I64);  // the synthetic source is F32, not bf16
    ASSERT_EQ(qb.dtype(), DType::I32);
    ASSERT_EQ(deq.shape(), (Shape{n}));
    const Tensor bias = src_->view(*src_->find(L + ".bias"));
    for (int64_t row = 0; row < n; ++row) {
      const float d = sx * sw.data<float>()[row];
      uint32_t bits;
      std::memcpy(&bits, &d, 4);
      EXPECT_EQ(deq.data<int64_t>()[row], static_cast<int64_t>(static_cast<int32_t>(bits))) << L << " " << row;
      EXPECT_EQ(static_cast<uint64_t>(deq.data<int64_t>()[row]) >> 32, 0u);  // positive scales: high word 0
      const float want = rne(bias.data<float>()[row] / d - ox * static_cast<float>(sums[row]));
      EXPECT_EQ(qb.data<int32_t>()[row], static_cast<int32_t>(want)) << L << " " << row;
    }
    for (const char* s : {".weight", ".input_scale", ".input_offset", ".deq_scale", ".quant_bias"})
      EXPECT_EQ(w.desc[L + s], "W8A8") << L << s;
    EXPECT_EQ(w.desc[L + ".bias"], "FLOAT");
  }
  // Fused runtime layers read one activation, so their parts share input_scale / input_offset.
  for (int b = 0; b < 2; ++b) {
    const std::string p = "blocks." + std::to_string(b);
    for (const char* s : {".input_scale", ".input_offset"}) {
      const float q = w.view(p + ".attn1.to_q" + s).data<float>()[0];
      EXPECT_EQ(w.view(p + ".attn1.to_k" + s).data<float>()[0], q);
      EXPECT_EQ(w.view(p + ".attn1.to_v" + s).data<float>()[0], q);
      EXPECT_EQ(w.view(p + ".attn2.to_k" + s).data<float>()[0], w.view(p + ".attn2.to_v" + s).data<float>()[0]);
    }
  }
}

TEST_F(QuantizeFormat, MindIELayoutNativeNamesAndFloat32DeqScale) {
  run(SchemeId::W8A8, OutputLayout::MindIE, "mindie");
  const std::string dir = tmp_.path() + "/mindie";
  const Written w = open_output(dir, "quant_model_weight_w8a8.safetensors", "quant_model_description_w8a8.json");
  expect_description_is_the_index(w, false);
  EXPECT_EQ(w.desc["model_quant_type"], "W8A8");
  EXPECT_NE(w.file->find("blocks.0.self_attn.q.weight"), nullptr);
  EXPECT_NE(w.file->find("head.head.quant_bias"), nullptr);
  EXPECT_EQ(w.file->find("blocks.0.attn1.to_q.weight"), nullptr);
  // MindIE-format always writes deq_scale as float32, with the same value the int64 form encodes.
  const Tensor d = w.view("blocks.1.ffn.2.deq_scale");
  ASSERT_EQ(d.dtype(), DType::F32);
  run(SchemeId::W8A8, OutputLayout::AscendV1, "ascend");
  const Written a =
      open_output(tmp_.path() + "/ascend", "quant_model_weights.safetensors", "quant_model_description.json");
  const Tensor di = a.view("blocks.1.ffn.net.2.deq_scale");
  for (int64_t i = 0; i < d.numel(); ++i) {
    float decoded;
    const uint32_t lo = static_cast<uint32_t>(di.data<int64_t>()[i] & 0xffffffff);
    std::memcpy(&decoded, &lo, 4);
    EXPECT_EQ(d.data<float>()[i], decoded);
  }
  // config.json in native form next to native names.
  EXPECT_TRUE(qtest::read_json(dir + "/config.json").contains("dim"));
  const load::ComponentPlan p = qtest::plan_one(dir);
  EXPECT_TRUE(p.ok()) << qtest::problems_text(p);
  EXPECT_EQ(p.files.layout, LayoutKind::MsModelSlimRaw);
}

TEST_F(QuantizeFormat, RepackedLayoutW4A4AndW8A16) {
  run(SchemeId::W4A4Dynamic, OutputLayout::Repacked, "w4a4");
  Written w = open_output(tmp_.path() + "/w4a4", "diffusion_pytorch_model.safetensors", "quant_model_description.json");
  expect_description_is_the_index(w, true);
  EXPECT_EQ(w.desc["model_quant_type"], "W4A4_DYNAMIC");
  for (const wan::LinearDecl* l : quantizable()) {
    const Tensor q = w.view(l->canonical + ".weight");
    expect_weight(src_->view(*src_->find(l->canonical + ".weight")), q, w.view(l->canonical + ".weight_scale"), 7);
    for (int64_t i = 0; i < q.numel(); ++i) {
      ASSERT_GE(q.data<int8_t>()[i], -7);  // one unpacked int4 value per byte
      ASSERT_LE(q.data<int8_t>()[i], 7);
    }
    EXPECT_EQ(w.desc[l->canonical + ".weight"], "W4A4_DYNAMIC");
  }
  run(SchemeId::W8A16, OutputLayout::Repacked, "w8a16");
  w = open_output(tmp_.path() + "/w8a16", "diffusion_pytorch_model.safetensors", "quant_model_description.json");
  EXPECT_EQ(w.desc["model_quant_type"], "W8A16");
  const std::string L = quantizable().front()->canonical;
  expect_weight(src_->view(*src_->find(L + ".weight")), w.view(L + ".weight"), w.view(L + ".weight_scale"), 127);
  const Tensor off = w.view(L + ".weight_offset");
  for (int64_t i = 0; i < off.numel(); ++i) EXPECT_EQ(off.data<float>()[i], 0.0f);
  EXPECT_EQ(qtest::plan_one(tmp_.path() + "/w8a16").files.layout, LayoutKind::DiffusersRepacked);
}

TEST_F(QuantizeFormat, Bf16SourceKeepsDeqScaleInFloat32) {
  SynthOptions b = qtest::tiny_synth(tmp_.path() + "/bf16", NameSpace::Native, DType::BF16);
  synthesize(b);
  QuantizeOptions o;
  o.src = b.out;
  o.out = tmp_.path() + "/bq";
  o.scheme = SchemeId::W8A8;
  o.calibration = {calib_[0]};
  quantize_checkpoint(o);
  // AscendV1 keeps the source's namespace by default: native names here.
  const Written w = open_output(o.out, "quant_model_weights.safetensors", "quant_model_description.json");
  const Tensor d = w.view("blocks.0.cross_attn.o.deq_scale");
  EXPECT_EQ(d.dtype(), DType::F32);
  // Float tensors stay in the source dtype; the biases of quantized layers are written as F32.
  EXPECT_EQ(w.at("blocks.0.norm3.weight").dtype, DType::BF16);
  EXPECT_EQ(w.at("blocks.0.cross_attn.o.bias").dtype, DType::F32);
  EXPECT_EQ(w.at("text_embedding.0.weight").dtype, DType::BF16);
}

TEST_F(QuantizeFormat, NamesFlagOverridesTheNamespaceAndRewritesConfig) {
  run(SchemeId::W8A8Dynamic, OutputLayout::AscendV1, "nat", {}, NameSpace::Native);
  const Written w = open_output(tmp_.path() + "/nat", "quant_model_weights.safetensors", "quant_model_description.json");
  EXPECT_NE(w.file->find("blocks.1.ffn.0.weight_scale"), nullptr);
  EXPECT_EQ(w.desc["blocks.1.ffn.0.weight_scale"], "W8A8_DYNAMIC");
  EXPECT_EQ(w.desc["blocks.1.norm3.weight"], "FLOAT");
  const auto cfg = qtest::read_json(tmp_.path() + "/nat/config.json");
  EXPECT_EQ(cfg["dim"], 64);
  EXPECT_EQ(cfg["num_layers"], 2);
  EXPECT_TRUE(qtest::plan_one(tmp_.path() + "/nat").ok());
}

}  // namespace
}  // namespace qdit::quantize
