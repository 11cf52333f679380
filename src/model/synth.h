// Random-weight models of any shape (`hearth synth`): llama-family decoders
// and BERT encoders, for benchmarks and tests: speed depends on shapes and
// types, not on values.
#pragma once

#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "hearth/status.h"

namespace hearth::model {

struct SynthOptions {
  std::string arch = "llama";  // llama, qwen2 or bert
  int64_t dim = 256, layers = 2, heads = 4, kv_heads = 2, ffn = 768, ctx = 2048;
  std::string vocab_from;      // GGUF whose tokenizer.* metadata is copied
  int64_t vocab = 0;           // when no vocab_from: vocabulary size
  DType type = DType::kF16;    // type of the 2-D weights
  uint64_t seed = 1;
  float rope_base = 10000.f;
};

Status synth_model(const SynthOptions& o, const std::string& out_path);

}  // namespace hearth::model
