#include "generation.h"

#include <chrono>

namespace hearth::app {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// generate() without the timings' end: sets prompt_eval_s when the first token is sampled.
GenerationResult run(Clock::time_point t0, model::Context& ctx, std::vector<int32_t>& history,
                     const std::vector<int32_t>& prompt, const tokenizer::Tokenizer& tok, sampling::SamplerChain& chain,
                     int n_predict, const std::vector<std::string>& stops, bool ignore_eos,
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
  r.prompt_eval_count = static_cast<int64_t>(batch.size());
  for (int i = 0; n_predict < 0 || i < n_predict; ++i) {
    if (ctx.n_past() + static_cast<int64_t>(batch.size()) > ctx.n_ctx()) {
      r.finish = sampling::FinishReason::kContext;
      break;
    }
    r.status = ctx.eval(batch, false, &logits);
    if (!r.status.ok()) return r;
    history.insert(history.end(), batch.begin(), batch.end());
    int32_t next = chain.sample(logits, window);
    if (i == 0) r.prompt_eval_s = seconds_since(t0);
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

}  // namespace

GenerationResult generate(model::Context& ctx, std::vector<int32_t>& history, const std::vector<int32_t>& prompt,
                          const tokenizer::Tokenizer& tok, sampling::SamplerChain& chain, int n_predict,
                          const std::vector<std::string>& stops, bool ignore_eos,
                          const std::function<void(const std::string&)>& emit) {
  const auto t0 = Clock::now();
  GenerationResult r = run(t0, ctx, history, prompt, tok, chain, n_predict, stops, ignore_eos, emit);
  const double total = seconds_since(t0);
  if (r.tokens.empty() && r.prompt_eval_s == 0) r.prompt_eval_s = total;  // (nothing was sampled)
  r.eval_s = total - r.prompt_eval_s;
  return r;
}

}  // namespace hearth::app
