// The llama-family decoder block, shared by the architectures that use it.
#pragma once

#include "model/model.h"

namespace hearth::model {

struct LlamaVariant {
  RopeType rope = RopeType::kNorm;
  bool qkv_bias = false;  // biases on Q, K, V (qwen2)
};

// Reads hyper-parameters from `{arch}.*` metadata and binds every tensor,
// checking each shape; errors name the key or tensor.
Status load_llama_family(Model& m, const LlamaVariant& v);

}  // namespace hearth::model
