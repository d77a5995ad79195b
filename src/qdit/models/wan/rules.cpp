// The Wan rename tables of wan-dit.md §2.3 (native <-> Diffusers) and qdit's runtime module names
// (Diffusers <-> runtime), written as rule data for the reference engine (names/name_map.h).
#include "qdit/models/wan/rules.h"

namespace qdit::wan {
namespace {

// native norm3 (the affine LayerNorm before cross-attention) is Diffusers norm2, and native norm2 (the
// parameter-free LayerNorm before the FFN) is Diffusers norm3; the swap reads the same in both directions.
// Two plain rules cannot express it: the engine restarts after each rename, so "norm3 -> norm2" would be
// undone by an unfired "norm2 -> norm3" and the cycle guard would stop on the original name. The marks '#'
// and '%' make each path fire both plain rules once and then finish on a marked rule:
//   norm3.w -> norm2.%w -> norm3.#%w -> norm2.w      norm2.w -> norm3.#w -> norm2.%#w -> norm3.w
void append_norm_swap(std::vector<NameRule>& rules) {
  rules.push_back({R"(^blocks\.(\d+)\.norm2\.(.*)$)", R"(blocks.\1.norm3.#\2)"});
  rules.push_back({R"(^blocks\.(\d+)\.norm3\.(.*)$)", R"(blocks.\1.norm2.%\2)"});
  rules.push_back({R"(^blocks\.(\d+)\.norm3\.#%(.*)$)", R"(blocks.\1.norm2.\2)"});
  rules.push_back({R"(^blocks\.(\d+)\.norm2\.%#(.*)$)", R"(blocks.\1.norm3.\2)"});
}

std::vector<NameRule> make_native_to_diffusers() {
  std::vector<NameRule> r = {
      {R"(^time_embedding\.0\.(.*)$)", R"(condition_embedder.time_embedder.linear_1.\1)"},
      {R"(^time_embedding\.2\.(.*)$)", R"(condition_embedder.time_embedder.linear_2.\1)"},
      {R"(^time_projection\.1\.(.*)$)", R"(condition_embedder.time_proj.\1)"},
      {R"(^text_embedding\.0\.(.*)$)", R"(condition_embedder.text_embedder.linear_1.\1)"},
      {R"(^text_embedding\.2\.(.*)$)", R"(condition_embedder.text_embedder.linear_2.\1)"},
      {R"(^head\.modulation(.*)$)", R"(scale_shift_table\1)"},
      {R"(^head\.head\.(.*)$)", R"(proj_out.\1)"},
      {R"(^img_emb\.proj\.0\.(.*)$)", R"(condition_embedder.image_embedder.norm1.\1)"},
      {R"(^img_emb\.proj\.1\.(.*)$)", R"(condition_embedder.image_embedder.ff.net.0.proj.\1)"},
      {R"(^img_emb\.proj\.3\.(.*)$)", R"(condition_embedder.image_embedder.ff.net.2.\1)"},
      {R"(^img_emb\.proj\.4\.(.*)$)", R"(condition_embedder.image_embedder.norm2.\1)"},
      {R"(^img_emb\.emb_pos(.*)$)", R"(condition_embedder.image_embedder.pos_embed\1)"},
      {R"(^blocks\.(\d+)\.modulation(.*)$)", R"(blocks.\1.scale_shift_table\2)"},
      {R"(^blocks\.(\d+)\.self_attn\.(q|k|v)\.(.*)$)", R"(blocks.\1.attn1.to_\2.\3)"},
      {R"(^blocks\.(\d+)\.self_attn\.o\.(.*)$)", R"(blocks.\1.attn1.to_out.0.\2)"},
      {R"(^blocks\.(\d+)\.self_attn\.norm_(q|k)\.(.*)$)", R"(blocks.\1.attn1.norm_\2.\3)"},
      {R"(^blocks\.(\d+)\.cross_attn\.(q|k|v)\.(.*)$)", R"(blocks.\1.attn2.to_\2.\3)"},
      {R"(^blocks\.(\d+)\.cross_attn\.o\.(.*)$)", R"(blocks.\1.attn2.to_out.0.\2)"},
      {R"(^blocks\.(\d+)\.cross_attn\.norm_(q|k)\.(.*)$)", R"(blocks.\1.attn2.norm_\2.\3)"},
      {R"(^blocks\.(\d+)\.cross_attn\.k_img\.(.*)$)", R"(blocks.\1.attn2.add_k_proj.\2)"},
      {R"(^blocks\.(\d+)\.cross_attn\.v_img\.(.*)$)", R"(blocks.\1.attn2.add_v_proj.\2)"},
      {R"(^blocks\.(\d+)\.cross_attn\.norm_k_img\.(.*)$)", R"(blocks.\1.attn2.norm_added_k.\2)"},
      {R"(^blocks\.(\d+)\.ffn\.0\.(.*)$)", R"(blocks.\1.ffn.net.0.proj.\2)"},
      {R"(^blocks\.(\d+)\.ffn\.2\.(.*)$)", R"(blocks.\1.ffn.net.2.\2)"},
  };
  append_norm_swap(r);
  return r;
}

std::vector<NameRule> make_diffusers_to_native() {
  std::vector<NameRule> r = {
      {R"(^condition_embedder\.time_embedder\.linear_1\.(.*)$)", R"(time_embedding.0.\1)"},
      {R"(^condition_embedder\.time_embedder\.linear_2\.(.*)$)", R"(time_embedding.2.\1)"},
      {R"(^condition_embedder\.time_proj\.(.*)$)", R"(time_projection.1.\1)"},
      {R"(^condition_embedder\.text_embedder\.linear_1\.(.*)$)", R"(text_embedding.0.\1)"},
      {R"(^condition_embedder\.text_embedder\.linear_2\.(.*)$)", R"(text_embedding.2.\1)"},
      {R"(^scale_shift_table(.*)$)", R"(head.modulation\1)"},
      {R"(^proj_out\.(.*)$)", R"(head.head.\1)"},
      {R"(^condition_embedder\.image_embedder\.norm1\.(.*)$)", R"(img_emb.proj.0.\1)"},
      {R"(^condition_embedder\.image_embedder\.ff\.net\.0\.proj\.(.*)$)", R"(img_emb.proj.1.\1)"},
      {R"(^condition_embedder\.image_embedder\.ff\.net\.2\.(.*)$)", R"(img_emb.proj.3.\1)"},
      {R"(^condition_embedder\.image_embedder\.norm2\.(.*)$)", R"(img_emb.proj.4.\1)"},
      {R"(^condition_embedder\.image_embedder\.pos_embed(.*)$)", R"(img_emb.emb_pos\1)"},
      {R"(^blocks\.(\d+)\.scale_shift_table(.*)$)", R"(blocks.\1.modulation\2)"},
      {R"(^blocks\.(\d+)\.attn1\.to_(q|k|v)\.(.*)$)", R"(blocks.\1.self_attn.\2.\3)"},
      {R"(^blocks\.(\d+)\.attn1\.to_out\.0\.(.*)$)", R"(blocks.\1.self_attn.o.\2)"},
      {R"(^blocks\.(\d+)\.attn1\.norm_(q|k)\.(.*)$)", R"(blocks.\1.self_attn.norm_\2.\3)"},
      {R"(^blocks\.(\d+)\.attn2\.to_(q|k|v)\.(.*)$)", R"(blocks.\1.cross_attn.\2.\3)"},
      {R"(^blocks\.(\d+)\.attn2\.to_out\.0\.(.*)$)", R"(blocks.\1.cross_attn.o.\2)"},
      {R"(^blocks\.(\d+)\.attn2\.norm_(q|k)\.(.*)$)", R"(blocks.\1.cross_attn.norm_\2.\3)"},
      {R"(^blocks\.(\d+)\.attn2\.add_k_proj\.(.*)$)", R"(blocks.\1.cross_attn.k_img.\2)"},
      {R"(^blocks\.(\d+)\.attn2\.add_v_proj\.(.*)$)", R"(blocks.\1.cross_attn.v_img.\2)"},
      {R"(^blocks\.(\d+)\.attn2\.norm_added_k\.(.*)$)", R"(blocks.\1.cross_attn.norm_k_img.\2)"},
      {R"(^blocks\.(\d+)\.ffn\.net\.0\.proj\.(.*)$)", R"(blocks.\1.ffn.0.\2)"},
      {R"(^blocks\.(\d+)\.ffn\.net\.2\.(.*)$)", R"(blocks.\1.ffn.2.\2)"},
  };
  append_norm_swap(r);
  return r;
}

// qdit's runtime modules: self-attention q|k|v run as one GEMM (qkv), cross-attention k|v on the text as one
// (kv) and on the image tokens as one (kv_img); the merge triples say which slice each canonical tensor is.
std::vector<NameRule> make_diffusers_to_runtime() {
  return {
      {R"(^patch_embedding\.(.*)$)", R"(patch_embed.\1)"},
      {R"(^condition_embedder\.time_embedder\.linear_1\.(.*)$)", R"(time.fc1.\1)"},
      {R"(^condition_embedder\.time_embedder\.linear_2\.(.*)$)", R"(time.fc2.\1)"},
      {R"(^condition_embedder\.time_proj\.(.*)$)", R"(time.proj.\1)"},
      {R"(^condition_embedder\.text_embedder\.linear_1\.(.*)$)", R"(text.fc1.\1)"},
      {R"(^condition_embedder\.text_embedder\.linear_2\.(.*)$)", R"(text.fc2.\1)"},
      {R"(^condition_embedder\.image_embedder\.norm1\.(.*)$)", R"(image.norm_in.\1)"},
      {R"(^condition_embedder\.image_embedder\.ff\.net\.0\.proj\.(.*)$)", R"(image.fc1.\1)"},
      {R"(^condition_embedder\.image_embedder\.ff\.net\.2\.(.*)$)", R"(image.fc2.\1)"},
      {R"(^condition_embedder\.image_embedder\.norm2\.(.*)$)", R"(image.norm_out.\1)"},
      {R"(^condition_embedder\.image_embedder\.pos_embed(.*)$)", R"(image.pos_embed\1)"},
      {R"(^scale_shift_table(.*)$)", R"(head.modulation\1)"},
      {R"(^proj_out\.(.*)$)", R"(head.proj.\1)"},
      {R"(^blocks\.(\d+)\.scale_shift_table(.*)$)", R"(blocks.\1.modulation\2)"},
      {R"(^blocks\.(\d+)\.attn1\.to_q\.(.*)$)", R"(blocks.\1.self_attn.qkv.\2)", 0, 3},
      {R"(^blocks\.(\d+)\.attn1\.to_k\.(.*)$)", R"(blocks.\1.self_attn.qkv.\2)", 1, 3},
      {R"(^blocks\.(\d+)\.attn1\.to_v\.(.*)$)", R"(blocks.\1.self_attn.qkv.\2)", 2, 3},
      {R"(^blocks\.(\d+)\.attn1\.to_out\.0\.(.*)$)", R"(blocks.\1.self_attn.out.\2)"},
      {R"(^blocks\.(\d+)\.attn1\.norm_(q|k)\.(.*)$)", R"(blocks.\1.self_attn.norm_\2.\3)"},
      {R"(^blocks\.(\d+)\.norm2\.(.*)$)", R"(blocks.\1.cross_norm.\2)"},
      {R"(^blocks\.(\d+)\.attn2\.to_q\.(.*)$)", R"(blocks.\1.cross_attn.q.\2)"},
      {R"(^blocks\.(\d+)\.attn2\.to_k\.(.*)$)", R"(blocks.\1.cross_attn.kv.\2)", 0, 2},
      {R"(^blocks\.(\d+)\.attn2\.to_v\.(.*)$)", R"(blocks.\1.cross_attn.kv.\2)", 1, 2},
      {R"(^blocks\.(\d+)\.attn2\.to_out\.0\.(.*)$)", R"(blocks.\1.cross_attn.out.\2)"},
      {R"(^blocks\.(\d+)\.attn2\.norm_(q|k)\.(.*)$)", R"(blocks.\1.cross_attn.norm_\2.\3)"},
      {R"(^blocks\.(\d+)\.attn2\.add_k_proj\.(.*)$)", R"(blocks.\1.cross_attn.kv_img.\2)", 0, 2},
      {R"(^blocks\.(\d+)\.attn2\.add_v_proj\.(.*)$)", R"(blocks.\1.cross_attn.kv_img.\2)", 1, 2},
      {R"(^blocks\.(\d+)\.attn2\.norm_added_k\.(.*)$)", R"(blocks.\1.cross_attn.norm_k_img.\2)"},
      // Diffusers ignores this checkpoint key too (Wan has no norm on the image query).
      {R"(^blocks\.(\d+)\.attn2\.norm_added_q\.(.*)$)", ""},
      {R"(^blocks\.(\d+)\.ffn\.net\.0\.proj\.(.*)$)", R"(blocks.\1.ffn.up.\2)"},
      {R"(^blocks\.(\d+)\.ffn\.net\.2\.(.*)$)", R"(blocks.\1.ffn.down.\2)"},
  };
}

std::vector<NameRule> make_runtime_to_diffusers() {
  return {
      {R"(^patch_embed\.(.*)$)", R"(patch_embedding.\1)"},
      {R"(^time\.fc1\.(.*)$)", R"(condition_embedder.time_embedder.linear_1.\1)"},
      {R"(^time\.fc2\.(.*)$)", R"(condition_embedder.time_embedder.linear_2.\1)"},
      {R"(^time\.proj\.(.*)$)", R"(condition_embedder.time_proj.\1)"},
      {R"(^text\.fc1\.(.*)$)", R"(condition_embedder.text_embedder.linear_1.\1)"},
      {R"(^text\.fc2\.(.*)$)", R"(condition_embedder.text_embedder.linear_2.\1)"},
      {R"(^image\.norm_in\.(.*)$)", R"(condition_embedder.image_embedder.norm1.\1)"},
      {R"(^image\.fc1\.(.*)$)", R"(condition_embedder.image_embedder.ff.net.0.proj.\1)"},
      {R"(^image\.fc2\.(.*)$)", R"(condition_embedder.image_embedder.ff.net.2.\1)"},
      {R"(^image\.norm_out\.(.*)$)", R"(condition_embedder.image_embedder.norm2.\1)"},
      {R"(^image\.pos_embed(.*)$)", R"(condition_embedder.image_embedder.pos_embed\1)"},
      {R"(^head\.modulation(.*)$)", R"(scale_shift_table\1)"},
      {R"(^head\.proj\.(.*)$)", R"(proj_out.\1)"},
      {R"(^blocks\.(\d+)\.modulation(.*)$)", R"(blocks.\1.scale_shift_table\2)"},
      {R"(^blocks\.(\d+)\.self_attn\.qkv\.(.*)@0$)", R"(blocks.\1.attn1.to_q.\2)"},
      {R"(^blocks\.(\d+)\.self_attn\.qkv\.(.*)@1$)", R"(blocks.\1.attn1.to_k.\2)"},
      {R"(^blocks\.(\d+)\.self_attn\.qkv\.(.*)@2$)", R"(blocks.\1.attn1.to_v.\2)"},
      {R"(^blocks\.(\d+)\.self_attn\.out\.(.*)$)", R"(blocks.\1.attn1.to_out.0.\2)"},
      {R"(^blocks\.(\d+)\.self_attn\.norm_(q|k)\.(.*)$)", R"(blocks.\1.attn1.norm_\2.\3)"},
      {R"(^blocks\.(\d+)\.cross_norm\.(.*)$)", R"(blocks.\1.norm2.\2)"},
      {R"(^blocks\.(\d+)\.cross_attn\.q\.(.*)$)", R"(blocks.\1.attn2.to_q.\2)"},
      {R"(^blocks\.(\d+)\.cross_attn\.kv\.(.*)@0$)", R"(blocks.\1.attn2.to_k.\2)"},
      {R"(^blocks\.(\d+)\.cross_attn\.kv\.(.*)@1$)", R"(blocks.\1.attn2.to_v.\2)"},
      {R"(^blocks\.(\d+)\.cross_attn\.out\.(.*)$)", R"(blocks.\1.attn2.to_out.0.\2)"},
      {R"(^blocks\.(\d+)\.cross_attn\.norm_(q|k)\.(.*)$)", R"(blocks.\1.attn2.norm_\2.\3)"},
      {R"(^blocks\.(\d+)\.cross_attn\.kv_img\.(.*)@0$)", R"(blocks.\1.attn2.add_k_proj.\2)"},
      {R"(^blocks\.(\d+)\.cross_attn\.kv_img\.(.*)@1$)", R"(blocks.\1.attn2.add_v_proj.\2)"},
      {R"(^blocks\.(\d+)\.cross_attn\.norm_k_img\.(.*)$)", R"(blocks.\1.attn2.norm_added_k.\2)"},
      {R"(^blocks\.(\d+)\.ffn\.up\.(.*)$)", R"(blocks.\1.ffn.net.0.proj.\2)"},
      {R"(^blocks\.(\d+)\.ffn\.down\.(.*)$)", R"(blocks.\1.ffn.net.2.\2)"},
  };
}

}  // namespace

const std::vector<NameRule>& native_to_diffusers_rules() {
  static const std::vector<NameRule> rules = make_native_to_diffusers();
  return rules;
}
const std::vector<NameRule>& diffusers_to_native_rules() {
  static const std::vector<NameRule> rules = make_diffusers_to_native();
  return rules;
}
const std::vector<NameRule>& diffusers_to_runtime_rules() {
  static const std::vector<NameRule> rules = make_diffusers_to_runtime();
  return rules;
}
const std::vector<NameRule>& runtime_to_diffusers_rules() {
  static const std::vector<NameRule> rules = make_runtime_to_diffusers();
  return rules;
}

const NameMap& wan_native_to_diffusers() {
  static const NameMap map(native_to_diffusers_rules());
  return map;
}
const NameMap& wan_diffusers_to_native() {
  static const NameMap map(diffusers_to_native_rules());
  return map;
}
const NameMap& wan_diffusers_to_runtime() {
  static const NameMap map(diffusers_to_runtime_rules());
  return map;
}
const NameMap& wan_runtime_to_diffusers() {
  static const NameMap map(runtime_to_diffusers_rules());
  return map;
}

}  // namespace qdit::wan
