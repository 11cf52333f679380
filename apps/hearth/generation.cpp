#include "generation.h"

namespace hearth::app {

GenerationResult generate(model::Context& ctx, std::vector<int32_t>& history, const std::vector<int32_t>& prompt,
                          const tokenizer::Tokenizer& tok, sampling::SamplerChain& chain, int n_predict,
                          const std::vector<std::string>& stops, bool ignore_eos,
                          const std::function<void(const std::string&)>& emit) {
  GenerationResult r;
  // Reuse the longest common prefix already evaluated (at least one token is
  // re-evaluated so there are logits to sample from).
  size_t common = 0;
  while (common < history.size() && common < prompt.size() && history[common] == prompt[common]) ++common;
  if (common == prompt.size() && common > 0) --common;
  ctx.truncate(static_cast<int64_t>(common));
  history.resize(common);
  std::vector<int32_t> batch(prompt.begin() + static_cast<long>(common), prompt.end());
  if (static_cast<int64_t>(prompt.size()) > ctx.n_ctx()) {
    r.status = out_of_range("the prompt has " + std::to_string(prompt.size()) + " tokens but the context holds " +
                            std::to_string(ctx.n_ctx()));
    return r;
  }
  tokenizer::IncrementalDetokenizer detok(tok, false);
  sampling::StopMatcher stop(stops);
  std::vector<float> logits;
  std::vector<int32_t> window = prompt;
  for (int i = 0; n_predict < 0 || i < n_predict; ++i) {
    if (ctx.n_past() + static_cast<int64_t>(batch.size()) > ctx.n_ctx()) {
      r.finish = sampling::FinishReason::kContext;
      break;
    }
    r.status = ctx.eval(batch, false, &logits);
    if (!r.status.ok()) return r;
    history.insert(history.end(), batch.begin(), batch.end());
    int32_t next = chain.sample(logits, window);
    if (!ignore_eos && tok.is_eog(next)) {
      r.finish = sampling::FinishReason::kStop;
      break;
    }
    r.tokens.push_back(next);
    window.push_back(next);
    std::string text = stop.push(detok.push(next));
    if (!text.empty()) emit(text);
    if (stop.stopped()) {
      r.finish = sampling::FinishReason::kStop;
      return r;
    }
    batch.assign(1, next);
  }
  if (r.finish == sampling::FinishReason::kNone) r.finish = sampling::FinishReason::kLength;
  std::string rest = stop.push(detok.flush());
  if (!stop.stopped()) rest += stop.flush();
  if (!rest.empty()) emit(rest);
  return r;
}

}  // namespace hearth::app
