// The generation loop `hearth run` uses: evaluate a prompt (reusing the part
// of it already in the KV cache), sample, detokenize incrementally, apply stop
// strings, and report why it ended.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "model/model.h"
#include "sampling/params.h"
#include "sampling/stop.h"
#include "tokenizer/tokenizer.h"

namespace hearth::app {

struct GenerationResult {
  Status status;
  sampling::FinishReason finish = sampling::FinishReason::kNone;
  std::vector<int32_t> tokens;  // generated tokens
  int64_t prompt_eval_count = 0;  // prompt tokens evaluated (those not already in the cache)
  double prompt_eval_s = 0;       // until the first token was sampled
  double eval_s = 0;              // the rest
};

// `history` holds the tokens currently in ctx's KV cache and is kept in step.
GenerationResult generate(model::Context& ctx, std::vector<int32_t>& history, const std::vector<int32_t>& prompt,
                          const tokenizer::Tokenizer& tok, sampling::SamplerChain& chain, int n_predict,
                          const std::vector<std::string>& stops, bool ignore_eos,
                          const std::function<void(const std::string&)>& emit);

}  // namespace hearth::app
