// Architecture `qwen2`: the llama block with biases on Q, K and V and the
// NEOX-style rotary embedding (rotating the two halves of each head).
#include "model/llama.h"
#include "model/registry.h"

namespace hearth::model {

Status load_qwen2(Model& m) { return load_llama_family(m, LlamaVariant{RopeType::kNeox, true}); }

}  // namespace hearth::model
