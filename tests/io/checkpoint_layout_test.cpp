// Layout recognition from temp trees shaped like the real published checkpoints. Weight files are left empty
// on purpose: detection must work from paths and small JSON files alone, without reading any tensor data.
#include <gtest/gtest.h>

#include "io/io_test_helpers.h"
#include "qdit/io/checkpoint_layout.h"
#include "util/test_util.h"

namespace qdit {
namespace {

using test::TempDir;

const nlohmann::json kDiffusersConfig = {{"_class_name", "WanTransformer3DModel"},
                                         {"num_attention_heads", 12},
                                         {"attention_head_dim", 128},
                                         {"num_layers", 30}};
const nlohmann::json kNativeConfig = {{"_class_name", "WanModel"}, {"dim", 1536}, {"num_heads", 12},
                                      {"num_layers", 30},          {"model_type", "t2v"}};

void touch(const TempDir& d, const std::string& rel) { test::write_text(d.file(rel), ""); }

std::string at(const TempDir& d, const std::string& rel) { return d.path() + "/" + rel; }

TEST(CheckpointLayout, DiffusersPipelineWithTwoQuantizedExperts) {
  TempDir d;
  test::write_json(d.file("model_index.json"), {{"_class_name", "WanPipeline"},
                                                {"transformer", {"diffusers", "WanTransformer3DModel"}},
                                                {"transformer_2", {"diffusers", "WanTransformer3DModel"}},
                                                {"vae", {"diffusers", "AutoencoderKLWan"}}});
  for (std::string c : {"transformer", "transformer_2"}) {
    test::write_json(d.file(c + "/config.json"), kDiffusersConfig);
    touch(d, c + "/diffusion_pytorch_model.safetensors");
    test::write_json(d.file(c + "/quant_model_description.json"), {{"model_quant_type", "W8A8"}});
  }
  touch(d, "vae/diffusion_pytorch_model.safetensors");
  touch(d, "text_encoder/model-00001-of-00002.safetensors");

  CheckpointLayout l = detect_layout(d.path());
  EXPECT_EQ(l.kind, LayoutKind::DiffusersPipeline);
  EXPECT_EQ(l.root, d.path());
  ASSERT_EQ(l.components.size(), 2u);
  EXPECT_EQ(l.components[0].name, "transformer");
  EXPECT_EQ(l.components[1].name, "transformer_2");
  for (const auto& c : l.components) {
    EXPECT_EQ(c.layout, LayoutKind::DiffusersRepacked);
    EXPECT_EQ(c.dir, at(d, c.name));
    EXPECT_EQ(c.weight_files, std::vector<std::string>{at(d, c.name + "/diffusion_pytorch_model.safetensors")});
    EXPECT_EQ(c.description_file, at(d, c.name + "/quant_model_description.json"));
    EXPECT_EQ(c.config_file, at(d, c.name + "/config.json"));
    EXPECT_EQ(c.index_file, "");
  }
}

TEST(CheckpointLayout, DiffusersPipelineUnquantizedShardedSingleTransformer) {
  TempDir d;
  // Wan2.2 TI2V-5B writes transformer_2 as [null, null]: no second component.
  test::write_json(d.file("model_index.json"), {{"transformer", {"diffusers", "WanTransformer3DModel"}},
                                                {"transformer_2", {nullptr, nullptr}}});
  test::write_json(d.file("transformer/config.json"), kDiffusersConfig);
  touch(d, "transformer/diffusion_pytorch_model-00002-of-00002.safetensors");
  touch(d, "transformer/diffusion_pytorch_model-00001-of-00002.safetensors");
  test::write_json(d.file("transformer/diffusion_pytorch_model.safetensors.index.json"), {{"weight_map", {}}});

  CheckpointLayout l = detect_layout(d.path());
  EXPECT_EQ(l.kind, LayoutKind::DiffusersPipeline);
  ASSERT_EQ(l.components.size(), 1u);
  const auto& c = l.components[0];
  EXPECT_EQ(c.layout, LayoutKind::DiffusersComponent);
  EXPECT_EQ(c.weight_files, (std::vector<std::string>{at(d, "transformer/diffusion_pytorch_model-00001-of-00002.safetensors"),
                                                      at(d, "transformer/diffusion_pytorch_model-00002-of-00002.safetensors")}));
  EXPECT_EQ(c.index_file, at(d, "transformer/diffusion_pytorch_model.safetensors.index.json"));
  EXPECT_EQ(c.description_file, "");
}

TEST(CheckpointLayout, PipelineErrors) {
  TempDir d;
  test::write_json(d.file("model_index.json"), {{"transformer", {"diffusers", "WanTransformer3DModel"}}});
  test::expect_error([&] { detect_layout(d.path()); }, ErrorKind::Checkpoint,
                     {"names transformer", "folder is missing", at(d, "transformer")});
  test::write_json(d.file("model_index.json"), {{"vae", {"diffusers", "AutoencoderKLWan"}}});
  test::expect_error([&] { detect_layout(d.path()); }, ErrorKind::Checkpoint,
                     {"names no transformer", at(d, "model_index.json")});
  test::write_text(d.file("model_index.json"), "{oops");
  test::expect_error([&] { detect_layout(d.path()); }, ErrorKind::Checkpoint,
                     {"invalid JSON", at(d, "model_index.json")});
}

TEST(CheckpointLayout, ComponentFolderFormDecidedByConfig) {
  TempDir diff, native;
  test::write_json(diff.file("config.json"), kDiffusersConfig);
  touch(diff, "diffusion_pytorch_model.safetensors");
  CheckpointLayout a = detect_layout(diff.path());
  EXPECT_EQ(a.kind, LayoutKind::DiffusersComponent);
  ASSERT_EQ(a.components.size(), 1u);
  EXPECT_EQ(a.components[0].name, "transformer");
  EXPECT_EQ(a.components[0].config_file, at(diff, "config.json"));

  // The original Wan repos name their files diffusion_pytorch_model* too, with native names inside.
  test::write_json(native.file("config.json"), kNativeConfig);
  touch(native, "diffusion_pytorch_model.safetensors");
  touch(native, "Wan2.1_VAE.pth");
  CheckpointLayout b = detect_layout(native.path());
  EXPECT_EQ(b.kind, LayoutKind::NativeComponent);
  EXPECT_EQ(b.components[0].weight_files, std::vector<std::string>{at(native, "diffusion_pytorch_model.safetensors")});
}

TEST(CheckpointLayout, ConfigOfNeitherFormIsAnError) {
  TempDir d;
  test::write_json(d.file("config.json"), {{"_class_name", "AutoencoderKLWan"}, {"z_dim", 16}});
  touch(d, "diffusion_pytorch_model.safetensors");
  test::expect_error([&] { detect_layout(d.path()); }, ErrorKind::Checkpoint,
                     {"neither a Diffusers nor a native Wan", at(d, "config.json"), "AutoencoderKLWan"});
  test::write_json(d.file("config.json"), {{"num_attention_heads", 12}, {"dim", 1536}});
  test::expect_error([&] { detect_layout(d.path()); }, ErrorKind::Checkpoint, {"mixes Diffusers and native"});
}

TEST(CheckpointLayout, RawMsModelSlimOutputWithoutConfig) {
  TempDir d;
  touch(d, "quant_model_weight_w8a8_dynamic.safetensors");
  test::write_json(d.file("quant_model_description_w8a8_dynamic.json"), {{"model_quant_type", "W8A8_DYNAMIC"}});
  CheckpointLayout l = detect_layout(d.path());
  EXPECT_EQ(l.kind, LayoutKind::MsModelSlimRaw);
  ASSERT_EQ(l.components.size(), 1u);
  EXPECT_EQ(l.components[0].description_file, at(d, "quant_model_description_w8a8_dynamic.json"));
  EXPECT_EQ(l.components[0].config_file, "");
}

TEST(CheckpointLayout, RawMsModelSlimWan22Experts) {
  TempDir d;
  for (std::string c : {"high_noise_model", "low_noise_model"}) {
    touch(d, c + "/quant_model_weight_w8a8.safetensors");
    test::write_json(d.file(c + "/quant_model_description_w8a8.json"), {{"model_quant_type", "W8A8"}});
    test::write_json(d.file(c + "/config.json"), kNativeConfig);
  }
  CheckpointLayout l = detect_layout(d.path());
  EXPECT_EQ(l.kind, LayoutKind::MsModelSlimRaw);
  ASSERT_EQ(l.components.size(), 2u);
  EXPECT_EQ(l.components[0].name, "high_noise_model");
  EXPECT_EQ(l.components[1].name, "low_noise_model");
  EXPECT_EQ(l.components[1].weight_files, std::vector<std::string>{at(d, "low_noise_model/quant_model_weight_w8a8.safetensors")});
  EXPECT_EQ(l.components[1].description_file, at(d, "low_noise_model/quant_model_description_w8a8.json"));
}

TEST(CheckpointLayout, Wan22ExpertTreeNeedsBothExperts) {
  TempDir d;
  touch(d, "high_noise_model/quant_model_weight_w8a8.safetensors");
  test::write_json(d.file("high_noise_model/quant_model_description_w8a8.json"), {{"model_quant_type", "W8A8"}});
  test::expect_error([&] { detect_layout(d.path()); }, ErrorKind::Checkpoint, {"lacks low_noise_model/", d.path()});
}

TEST(CheckpointLayout, AscendV1SingleFileIgnoresOptional) {
  TempDir d;
  touch(d, "quant_model_weights.safetensors");
  test::write_json(d.file("quant_model_description.json"), {{"model_quant_type", "W8A8_DYNAMIC"}, {"version", "1.0.0"}});
  test::write_json(d.file("config.json"), kNativeConfig);
  touch(d, "optional/quarot.safetensors");
  CheckpointLayout l = detect_layout(d.path());
  EXPECT_EQ(l.kind, LayoutKind::AscendV1);
  ASSERT_EQ(l.components.size(), 1u);
  EXPECT_EQ(l.components[0].weight_files, std::vector<std::string>{at(d, "quant_model_weights.safetensors")});
  EXPECT_EQ(l.components[0].description_file, at(d, "quant_model_description.json"));
}

TEST(CheckpointLayout, AscendV1Sharded) {
  TempDir d;
  for (int i = 1; i <= 3; ++i) touch(d, "quant_model_weights-0000" + std::to_string(i) + "-of-00003.safetensors");
  test::write_json(d.file("quant_model_weights.safetensors.index.json"), {{"weight_map", {}}});
  test::write_json(d.file("quant_model_description.json"), {{"model_quant_type", "W8A8"}});
  CheckpointLayout l = detect_layout(d.path());
  EXPECT_EQ(l.kind, LayoutKind::AscendV1);
  EXPECT_EQ(l.components[0].weight_files.size(), 3u);
  EXPECT_EQ(l.components[0].weight_files[2], at(d, "quant_model_weights-00003-of-00003.safetensors"));
  EXPECT_EQ(l.components[0].index_file, at(d, "quant_model_weights.safetensors.index.json"));
  EXPECT_EQ(l.components[0].config_file, "");
}

TEST(CheckpointLayout, MissingShardIsNamed) {
  TempDir d;
  touch(d, "quant_model_weights-00001-of-00003.safetensors");
  touch(d, "quant_model_weights-00003-of-00003.safetensors");
  test::write_json(d.file("quant_model_description.json"), {{"model_quant_type", "W8A8"}});
  test::expect_error([&] { detect_layout(d.path()); }, ErrorKind::Checkpoint,
                     {"incomplete", at(d, "quant_model_weights-00002-of-00003.safetensors")});
}

TEST(CheckpointLayout, AscendV1WithoutDescriptionIsAnError) {
  TempDir d;
  touch(d, "quant_model_weights.safetensors");
  test::expect_error([&] { detect_layout(d.path()); }, ErrorKind::Checkpoint,
                     {"without quant_model_description.json", d.path()});
}

TEST(CheckpointLayout, RepackedDiffusersWithoutConfig) {
  TempDir d;
  touch(d, "diffusion_pytorch_model.safetensors");
  test::write_json(d.file("quant_model_description.json"), {{"model_quant_type", "W8A8"}});
  CheckpointLayout l = detect_layout(d.path());
  EXPECT_EQ(l.kind, LayoutKind::DiffusersRepacked);
  EXPECT_EQ(l.components[0].config_file, "");
}

TEST(CheckpointLayout, DescriptionLookupRule) {
  TempDir exact, sorted;
  // Exactly quant_model_description.json wins over any suffixed one ...
  test::write_json(exact.file("config.json"), kDiffusersConfig);
  touch(exact, "diffusion_pytorch_model.safetensors");
  test::write_json(exact.file("quant_model_description_a.json"), {});
  test::write_json(exact.file("quant_model_description.json"), {});
  EXPECT_EQ(detect_layout(exact.path()).components[0].description_file, at(exact, "quant_model_description.json"));
  // ... else the first suffixed one in sorted order.
  test::write_json(sorted.file("config.json"), kDiffusersConfig);
  touch(sorted, "diffusion_pytorch_model.safetensors");
  test::write_json(sorted.file("quant_model_description_w8a8.json"), {});
  test::write_json(sorted.file("quant_model_description_w4a4.json"), {});
  EXPECT_EQ(detect_layout(sorted.path()).components[0].description_file,
            at(sorted, "quant_model_description_w4a4.json"));
}

TEST(CheckpointLayout, SingleSafetensorsFileWithSidecars) {
  TempDir d;
  touch(d, "quant_model_weight_w8a8.safetensors");
  touch(d, "quant_model_weight_w4a4.safetensors");
  test::write_json(d.file("quant_model_description_w4a4.json"), {});
  test::write_json(d.file("quant_model_description_w8a8.json"), {});
  const std::string file = at(d, "quant_model_weight_w8a8.safetensors");
  CheckpointLayout l = detect_layout(file);
  EXPECT_EQ(l.kind, LayoutKind::MsModelSlimRaw);
  EXPECT_EQ(l.root, file);
  ASSERT_EQ(l.components.size(), 1u);
  EXPECT_EQ(l.components[0].dir, d.path());
  EXPECT_EQ(l.components[0].weight_files, std::vector<std::string>{file});
  // The description of the file's own type, not the first one in sorted order.
  EXPECT_EQ(l.components[0].description_file, at(d, "quant_model_description_w8a8.json"));

  TempDir plain;
  test::write_json(plain.file("config.json"), kDiffusersConfig);
  touch(plain, "diffusion_pytorch_model-00001-of-00002.safetensors");
  CheckpointLayout one = detect_layout(at(plain, "diffusion_pytorch_model-00001-of-00002.safetensors"));
  EXPECT_EQ(one.kind, LayoutKind::DiffusersComponent);
  EXPECT_EQ(one.components[0].weight_files.size(), 1u);
}

TEST(CheckpointLayout, UnrecognisableFolderSaysWhatWasLookedFor) {
  TempDir d;
  touch(d, "README.md");
  touch(d, "weights.bin");
  touch(d, "optional/quarot.safetensors");
  test::expect_error([&] { detect_layout(d.path()); }, ErrorKind::Checkpoint,
                     {d.path(), "not a recognised checkpoint layout", "model_index.json",
                      "quant_model_weights", "config.json", "README.md", "weights.bin", "optional/"});

  TempDir no_config;
  touch(no_config, "model.safetensors");
  test::expect_error([&] { detect_layout(no_config.path()); }, ErrorKind::Checkpoint,
                     {"without config.json", "model.safetensors"});

  TempDir empty;
  test::expect_error([&] { detect_layout(empty.path()); }, ErrorKind::Checkpoint, {"an empty folder"});
}

TEST(CheckpointLayout, BadPaths) {
  TempDir d;
  test::expect_error([&] { detect_layout(d.path() + "/nope"); }, ErrorKind::Io, {d.path() + "/nope", "does not exist"});
  touch(d, "notes.txt");
  test::expect_error([&] { detect_layout(at(d, "notes.txt")); }, ErrorKind::Checkpoint,
                     {at(d, "notes.txt"), "a folder or a .safetensors file"});
}

TEST(CheckpointLayout, LayoutNames) {
  EXPECT_STREQ(layout_name(LayoutKind::DiffusersPipeline), "diffusers-pipeline");
  EXPECT_STREQ(layout_name(LayoutKind::DiffusersComponent), "diffusers-component");
  EXPECT_STREQ(layout_name(LayoutKind::NativeComponent), "native-component");
  EXPECT_STREQ(layout_name(LayoutKind::MsModelSlimRaw), "msmodelslim-raw");
  EXPECT_STREQ(layout_name(LayoutKind::AscendV1), "ascend-v1");
  EXPECT_STREQ(layout_name(LayoutKind::DiffusersRepacked), "diffusers-repacked");
}

}  // namespace
}  // namespace qdit
