// Runs the built `qdit inspect` (QDIT_BINARY, set by CMake) on tiny checkpoints: exit codes, JSON output and
// messages naming the tensor for each malformed input of issue 2's acceptance list.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>

#include "load/tiny_wan.h"

namespace qdit::test {
namespace {

struct CliRun {
  int code = -1;
  std::string out, err;
};

CliRun inspect(const std::string& args) {
  const char* bin = std::getenv("QDIT_BINARY");
  if (!bin) {
    ADD_FAILURE() << "QDIT_BINARY is not set (run through ctest)";
    return {};
  }
  TempDir tmp;
  const std::string err_file = tmp.path() + "/stderr";
  const std::string cmd = std::string(bin) + " inspect " + args + " 2>" + err_file;
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  // A signal (crash) must never happen: report it as a distinct code.
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.err = read_text(err_file);
  return r;
}

std::string q(const std::string& path) { return "'" + path + "'"; }

TinyCheckpoint quantized(const std::string& type) {
  TinyCheckpoint c;
  c.build_float();
  c.quantize_blocks(type);
  return c;
}

// The problems of the single component in --json output.
nlohmann::json problems(const CliRun& r) {
  nlohmann::json j = nlohmann::json::parse(r.out);
  return j["components"][0]["problems"];
}

bool some_problem_names(const nlohmann::json& probs, const std::string& tensor) {
  for (const auto& p : probs)
    if (p["tensor"] == tensor || p["message"].get<std::string>().find(tensor) != std::string::npos) return true;
  return false;
}

TEST(InspectCli, GoodCheckpointJson) {
  TempDir dir;
  TinyCheckpoint c = quantized("W8A8_DYNAMIC");
  c.write(dir.path());
  CliRun r = inspect(q(dir.path()) + " --json");
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ok"], true);
  ASSERT_EQ(j["components"].size(), 1u);
  const auto& comp = j["components"][0];
  EXPECT_EQ(comp["architecture"], "wan");
  EXPECT_EQ(comp["variant"], "custom");
  EXPECT_EQ(comp["path"], dir.path());
  bool found = false;
  for (const auto& l : comp["layers"]) {
    if (l["name"] != "blocks.1.self_attn.qkv") continue;
    found = true;
    EXPECT_EQ(l["canonical"], "blocks.1.attn1.to_q|blocks.1.attn1.to_k|blocks.1.attn1.to_v");
    EXPECT_EQ(l["checkpoint"], "blocks.1.attn1.to_q|blocks.1.attn1.to_k|blocks.1.attn1.to_v");
    EXPECT_EQ(l["scheme"], "W8A8_DYNAMIC");
    EXPECT_EQ(l["weight_dtype"], "I8");
    EXPECT_EQ(l["weight_shape"], nlohmann::json::array({24, 8}));
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(comp["summary"]["layers_per_scheme"]["W8A8_DYNAMIC"], 14);
  EXPECT_EQ(comp["summary"]["layers_per_scheme"]["FLOAT"], 7);
  EXPECT_TRUE(comp["problems"].empty());
}

TEST(InspectCli, NativeRawOutputText) {
  TempDir dir;
  TinyCheckpoint c = quantized("W8A8");
  c.native_names = c.native_description = c.native_config = true;
  c.write(dir.path());
  CliRun r = inspect(q(dir.path()));
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  // One line per layer: qdit name, canonical name, name in the file, scheme, weight.
  EXPECT_NE(r.out.find("blocks.0.ffn.down"), std::string::npos);
  EXPECT_NE(r.out.find("blocks.0.ffn.net.2"), std::string::npos);
  EXPECT_NE(r.out.find("blocks.0.ffn.2 "), std::string::npos);
  EXPECT_NE(r.out.find("W8A8"), std::string::npos);
  EXPECT_NE(r.out.find("summary"), std::string::npos);
  EXPECT_NE(r.out.find("stays float"), std::string::npos);
}

TEST(InspectCli, UsageAndHelp) {
  CliRun h = inspect("--help");
  EXPECT_EQ(h.code, 0);
  EXPECT_NE(h.out.find("usage: qdit inspect PATH"), std::string::npos);
  EXPECT_EQ(inspect("").code, 2);
  EXPECT_EQ(inspect("/tmp --bogus").code, 2);
  EXPECT_EQ(inspect("a b").code, 2);
  EXPECT_EQ(inspect("/tmp --component").code, 2);
  CliRun missing = inspect("/nonexistent/checkpoint");
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/checkpoint"), std::string::npos) << missing.err;
  TempDir dir;
  quantized("W8A8_DYNAMIC").write(dir.path());
  EXPECT_EQ(inspect(q(dir.path()) + " --component nope").code, 2);
}

// Each malformed input gives exit 1 and a message naming the tensor (or the file, for the file-level ones).
TEST(InspectCli, MalformedInputs) {
  struct Case {
    std::string what;
    std::function<void(TinyCheckpoint&, const std::string& dir)> spoil;
    std::string named;  // what the problems must name
  };
  const std::string weights = "/diffusion_pytorch_model.safetensors";
  auto rewrite_head = [](const std::string& path, uint64_t header_len) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.write(reinterpret_cast<const char*>(&header_len), 8);
  };
  const std::vector<Case> cases = {
      {"truncated file",
       [&](TinyCheckpoint&, const std::string& d) {
         std::string bytes = read_text(d + weights);
         write_text(d + weights, bytes.substr(0, bytes.size() - 100));
       },
       "diffusion_pytorch_model.safetensors"},
      {"header length past the end",
       [&](TinyCheckpoint&, const std::string& d) { rewrite_head(d + weights, 1u << 30); },
       "diffusion_pytorch_model.safetensors"},
      {"absurd header length",
       [&](TinyCheckpoint&, const std::string& d) { rewrite_head(d + weights, 1ull << 62); },
       "diffusion_pytorch_model.safetensors"},
      {"overlapping offsets",
       [&](TinyCheckpoint&, const std::string& d) {
         std::string header =
             R"({"patch_embedding.bias":{"dtype":"F32","shape":[8],"data_offsets":[0,32]},)"
             R"("proj_out.bias":{"dtype":"F32","shape":[8],"data_offsets":[16,48]}})";
         uint64_t n = header.size();
         std::string file(reinterpret_cast<const char*>(&n), 8);
         write_text(d + weights, file + header + std::string(48, '\0'));
       },
       "proj_out.bias"},
      {"invalid JSON in the description",
       [&](TinyCheckpoint&, const std::string& d) { write_text(d + "/quant_model_description.json", "{\"x\": "); },
       "quant_model_description.json"},
      {"unknown type string",
       [&](TinyCheckpoint& c, const std::string& d) {
         c.description["blocks.0.attn2.to_out.0.weight"] = "W9A9";
         c.write(d);
       },
       "blocks.0.attn2.to_out.0.weight"},
      {"wrong dtype of a quantization tensor",
       [&](TinyCheckpoint& c, const std::string& d) {
         c.tensors["blocks.1.ffn.net.0.proj.weight_scale"] = Tensor::zeros({16, 1}, DType::I32);
         c.write(d);
       },
       "blocks.1.ffn.net.0.proj.weight_scale"},
      {"wrong shape of a quantization tensor",
       [&](TinyCheckpoint& c, const std::string& d) {
         c.tensors["blocks.1.ffn.net.2.weight_scale"] = Tensor::zeros({9, 1}, DType::F32);
         c.write(d);
       },
       "blocks.1.ffn.net.2.weight_scale"},
      {"description without the layer's .weight entry",
       [&](TinyCheckpoint& c, const std::string& d) {
         c.description.erase("blocks.1.attn1.to_v.weight");
         c.write(d);
       },
       "blocks.1.attn1.to_v.weight"},
      {"missing weight_scale",
       [&](TinyCheckpoint& c, const std::string& d) {
         c.tensors.erase("blocks.0.attn1.to_q.weight_scale");
         c.write(d);
       },
       "blocks.0.attn1.to_q.weight_scale"},
  };
  for (const auto& cs : cases) {
    TempDir dir;
    TinyCheckpoint c = quantized("W8A8_DYNAMIC");
    c.write(dir.path());
    cs.spoil(c, dir.path());
    CliRun r = inspect(q(dir.path()) + " --json");
    ASSERT_EQ(r.code, 1) << cs.what << "\n" << r.err << r.out.substr(0, 2000);
    nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["ok"], false) << cs.what;
    bool named = false;
    for (const auto& p : problems(r))
      if (p["severity"] == "error" &&
          (p["tensor"] == cs.named || p["message"].get<std::string>().find(cs.named) != std::string::npos))
        named = true;
    EXPECT_TRUE(named) << cs.what << ": no error names " << cs.named << "\n" << problems(r).dump(1);
    // The text form fails the same way and prints the problem.
    CliRun t = inspect(q(dir.path()));
    EXPECT_EQ(t.code, 1) << cs.what;
    EXPECT_NE(t.out.find("error: "), std::string::npos) << cs.what;
  }
}

TEST(InspectCli, PipelineTreeListsEachTransformer) {
  TempDir dir;
  write_json(dir.path() + "/model_index.json",
             {{"_class_name", "WanPipeline"}, {"transformer", {"diffusers", "WanTransformer3DModel"}},
              {"transformer_2", {"diffusers", "WanTransformer3DModel"}}});
  quantized("W8A8_DYNAMIC").write(dir.path() + "/transformer");
  TinyCheckpoint low = quantized("W8A8");
  low.description["blocks.0.ffn.net.2.weight"] = "W8A8_MXFP8";
  low.write(dir.path() + "/transformer_2");
  CliRun r = inspect(q(dir.path()) + " --json");
  EXPECT_EQ(r.code, 1) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["components"].size(), 2u) << r.out.substr(0, 500);
  EXPECT_EQ(j["components"][0]["name"], "transformer");
  EXPECT_EQ(j["components"][0]["ok"], true);
  EXPECT_EQ(j["components"][1]["name"], "transformer_2");
  EXPECT_EQ(j["components"][1]["ok"], false);
  EXPECT_TRUE(some_problem_names(j["components"][1]["problems"], "blocks.0.ffn.net.2.weight"));
  CliRun only = inspect(q(dir.path()) + " --json --component transformer");
  EXPECT_EQ(only.code, 0) << only.err;
  EXPECT_EQ(nlohmann::json::parse(only.out)["components"].size(), 1u);
}

}  // namespace
}  // namespace qdit::test
