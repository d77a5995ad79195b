// load_weights: places every planned layer and parameter into its wan::WanWeights slot. The slots are found from
// canonical (Diffusers) names, the naming authority, so this file does not depend on how runtime names are
// spelled; a layer or parameter the model declares but the runtime has no slot for is an Internal error.
#include <cstdlib>
#include <string_view>

#include "qdit/load/loader.h"

namespace qdit::load {

namespace {

using wan::WanBlockWeights;
using wan::WanWeights;

struct BlockLinearSlot {
  std::string_view shards;  // canonical shard names after "blocks.N.", '|'-separated, in merge order
  QuantLinear WanBlockWeights::*slot;
};
constexpr BlockLinearSlot kBlockLinears[] = {
    {"attn1.to_q|attn1.to_k|attn1.to_v", &WanBlockWeights::self_qkv},
    {"attn1.to_out.0", &WanBlockWeights::self_out},
    {"attn2.to_q", &WanBlockWeights::cross_q},
    {"attn2.to_k|attn2.to_v", &WanBlockWeights::cross_kv},
    {"attn2.add_k_proj|attn2.add_v_proj", &WanBlockWeights::cross_kv_img},
    {"attn2.to_out.0", &WanBlockWeights::cross_out},
    {"ffn.net.0.proj", &WanBlockWeights::ffn_up},
    {"ffn.net.2", &WanBlockWeights::ffn_down},
};

struct TopLinearSlot {
  std::string_view shards;
  QuantLinear WanWeights::*slot;
};
constexpr TopLinearSlot kTopLinears[] = {
    {"patch_embedding", &WanWeights::patch_embed},
    {"condition_embedder.time_embedder.linear_1", &WanWeights::time_fc1},
    {"condition_embedder.time_embedder.linear_2", &WanWeights::time_fc2},
    {"condition_embedder.time_proj", &WanWeights::time_proj},
    {"condition_embedder.text_embedder.linear_1", &WanWeights::text_fc1},
    {"condition_embedder.text_embedder.linear_2", &WanWeights::text_fc2},
    {"condition_embedder.image_embedder.ff.net.0.proj", &WanWeights::image_fc1},
    {"condition_embedder.image_embedder.ff.net.2", &WanWeights::image_fc2},
    {"proj_out", &WanWeights::proj_out},
};

struct BlockParamSlot {
  std::string_view name;  // after "blocks.N."
  Tensor WanBlockWeights::*slot;
  bool modulation;        // [1, 6, D] -> [6, D]
};
constexpr BlockParamSlot kBlockParams[] = {
    {"scale_shift_table", &WanBlockWeights::modulation, true},
    {"attn1.norm_q.weight", &WanBlockWeights::self_norm_q, false},
    {"attn1.norm_k.weight", &WanBlockWeights::self_norm_k, false},
    {"norm2.weight", &WanBlockWeights::cross_norm_w, false},
    {"norm2.bias", &WanBlockWeights::cross_norm_b, false},
    {"attn2.norm_q.weight", &WanBlockWeights::cross_norm_q, false},
    {"attn2.norm_k.weight", &WanBlockWeights::cross_norm_k, false},
    {"attn2.norm_added_k.weight", &WanBlockWeights::cross_norm_k_img, false},
};

struct TopParamSlot {
  std::string_view name;
  Tensor WanWeights::*slot;
  bool modulation;  // [1, 2, D] -> [2, D]
};
constexpr TopParamSlot kTopParams[] = {
    {"scale_shift_table", &WanWeights::head_modulation, true},
    {"condition_embedder.image_embedder.norm1.weight", &WanWeights::image_norm_in_w, false},
    {"condition_embedder.image_embedder.norm1.bias", &WanWeights::image_norm_in_b, false},
    {"condition_embedder.image_embedder.norm2.weight", &WanWeights::image_norm_out_w, false},
    {"condition_embedder.image_embedder.norm2.bias", &WanWeights::image_norm_out_b, false},
};

// "blocks.12.attn1.to_q" -> (12, "attn1.to_q"); -1 when the name is not under a block.
std::pair<int64_t, std::string> split_block(const std::string& canonical) {
  constexpr std::string_view kPrefix = "blocks.";
  if (canonical.compare(0, kPrefix.size(), kPrefix) != 0) return {-1, canonical};
  size_t dot = canonical.find('.', kPrefix.size());
  if (dot == std::string::npos) return {-1, canonical};
  const std::string digits = canonical.substr(kPrefix.size(), dot - kPrefix.size());
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return {-1, canonical};
  return {std::strtoll(digits.c_str(), nullptr, 10), canonical.substr(dot + 1)};
}

// The shard list of a layer relative to its block ("attn1.to_q|attn1.to_k|attn1.to_v").
std::string relative_shards(const LinearPlan& lp, int64_t block) {
  std::string out;
  for (const auto& s : lp.shards) {
    auto [b, rest] = split_block(s.canonical);
    if (b != block) return "";  // shards of one runtime layer never span blocks
    out += (out.empty() ? "" : "|") + rest;
  }
  return out;
}

[[noreturn]] void no_slot(const std::string& what) {
  fail_internal("the model declares " + what + " but wan::WanWeights has no slot for it (schema and loader disagree)");
}

void place(Tensor& slot, Tensor value, const std::string& name) {
  if (slot.defined()) fail_internal("parameter " + name + " loaded twice");
  slot = std::move(value);
}

void place(QuantLinear& slot, QuantLinear value, const std::string& name) {
  if (slot.weight.defined()) fail_internal("layer " + name + " loaded twice");
  slot = std::move(value);
}

}  // namespace

WanWeights load_weights(const ComponentPlan& plan, std::vector<Problem>* warnings) {
  if (!plan.ok()) {
    const Problem* first = nullptr;
    for (const auto& p : plan.problems)
      if (p.severity == Severity::Error) {
        first = &p;
        break;
      }
    throw Error(ErrorKind::Checkpoint,
                "cannot load component '" + plan.files.name + "': the load plan has " +
                    std::to_string(plan.error_count()) + " error(s) (run `qdit inspect` to see all); first: " +
                    first->message,
                first->where);
  }
  WanWeights w;
  w.config = plan.config;
  w.blocks.resize(static_cast<size_t>(plan.config.num_layers));

  for (const auto& lp : plan.linears) {
    auto [block, rest] = split_block(lp.shards.front().canonical);
    QuantLinear* slot = nullptr;
    if (block >= 0) {
      if (block >= static_cast<int64_t>(w.blocks.size())) no_slot("layer " + lp.runtime);
      const std::string shards = relative_shards(lp, block);
      for (const auto& s : kBlockLinears)
        if (s.shards == shards) slot = &(w.blocks[block].*s.slot);
    } else {
      const std::string shards = lp.canonical_names();
      for (const auto& s : kTopLinears)
        if (s.shards == shards) slot = &(w.*s.slot);
    }
    if (!slot) no_slot("layer " + lp.runtime + " (" + lp.canonical_names() + ")");
    place(*slot, load_linear(plan, lp, warnings), lp.runtime);
  }

  const int64_t d = plan.config.dim;
  for (const auto& pp : plan.params) {
    auto [block, rest] = split_block(pp.canonical);
    bool placed = false;
    if (block >= 0 && block < static_cast<int64_t>(w.blocks.size())) {
      for (const auto& s : kBlockParams) {
        if (s.name != rest) continue;
        Shape shape = s.modulation ? Shape{6, d} : Shape{pp.shape.empty() ? 0 : pp.shape.back()};
        place(w.blocks[block].*s.slot, load_param_f32(plan, pp, shape), pp.canonical);
        placed = true;
      }
    } else if (block < 0) {
      for (const auto& s : kTopParams) {
        if (s.name != pp.canonical) continue;
        Shape shape = s.modulation ? Shape{2, d} : Shape{pp.shape.empty() ? 0 : pp.shape.back()};
        place(w.*s.slot, load_param_f32(plan, pp, shape), pp.canonical);
        placed = true;
      }
    }
    if (!placed) no_slot("parameter " + pp.canonical);
  }
  return w;
}

}  // namespace qdit::load
