// The Wan DiT's complete parameter list in canonical (Diffusers) names, derived from a WanConfig: every
// parameter with its shape and role, and every linear layer with its runtime (qdit) layer name and merge
// slice taken from the rule list (rules.h), never typed by hand per layer. Shapes per wan-dit.md §2.1.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qdit/core/tensor.h"
#include "qdit/models/wan/config.h"
#include "qdit/models/wan/rules.h"

namespace qdit::wan {

enum class ParamRole {
  LinearWeight,
  LinearBias,
  Norm,               // LayerNorm / RMSNorm weight
  NormBias,           // LayerNorm bias
  Modulation,         // scale_shift_table [1,2,D] and blocks.N.scale_shift_table [1,6,D]
  ConvWeight,         // patch_embedding.weight [D, Cin, 1, 2, 2]
  ConvBias,
  PositionEmbedding,  // FLF2V only: condition_embedder.image_embedder.pos_embed [1, image_tokens, image_dim]
};
const char* role_name(ParamRole r);

struct ParamDecl {
  std::string canonical;  // e.g. "blocks.3.attn1.to_q.weight"
  Shape shape;
  ParamRole role;
  std::string layer;  // canonical layer, no suffix ("blocks.3.attn1.to_q"); a bare table is its own layer
};

struct LinearDecl {             // one canonical linear layer
  std::string canonical;        // e.g. "blocks.3.attn1.to_q" (no .weight)
  int64_t out_features, in_features;
  // Every linear inside a block (self/cross-attention q, k, v, out, the I2V add_k_proj/add_v_proj, FFN up,
  // down) and proj_out; the embedder MLPs and the patch embedding never.
  bool quantizable;
  std::string runtime;          // runtime layer (e.g. "blocks.3.self_attn.qkv"), from the rule list
  int merge_index, num_merged;  // -1/0 when not fused
};
// patch_embedding is listed among the linears (not quantizable, in_features = Cin x 1 x 2 x 2): the runtime
// runs the Conv3d with kernel = stride as a GEMM on the flattened [D, Cin*4] weight (c, kt, kh, kw order).

struct WanSchema {
  WanConfig config;
  std::vector<ParamDecl> params;    // every parameter, linears' weights and biases included
  std::vector<LinearDecl> linears;  // in model order; fused shards adjacent, in merge order
};

// Usage error for sizes no Wan DiT can have (non-positive, dim not divisible by heads, odd head dim).
WanSchema build_schema(const WanConfig& c);

// Total number of scalar parameters (sum over params of the product of the shape).
int64_t parameter_count(const WanSchema& s);

// parameter_count(build_schema(c)) from the sizes alone (wan-dit.md §2.1 in closed form), or nullopt when it
// is not below INT64_MAX. Every shape's element count is one of its non-negative terms, so a count that fits
// means no size product in the schema overflows. Expects positive sizes (build_schema and the config parser
// check them first).
std::optional<int64_t> checked_parameter_count(const WanConfig& c);

}  // namespace qdit::wan
