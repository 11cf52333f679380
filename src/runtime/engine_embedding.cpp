// Embedding requests (/api/embed, /v1/embeddings) inside the scheduler.
#include <cmath>

#include "runtime/engine_impl.h"

namespace hearth::runtime {

// Embedding requests run beside the decoding: tokenized on the preparer
// thread, checked at admission, then one input per scheduler step
// (embed_step), so that a long batch of documents delays each step of the
// running chats by one input's time, not by the whole batch.
void Engine::Impl::tokenize_embedding(Sequence& s) {
  const EmbedRequest& er = *s.req.embed;
  const tokenizer::Tokenizer& tok = *s.lm->tok;
  s.embed_inputs = er.token_inputs;
  for (const auto& text : er.inputs) s.embed_inputs.push_back(tok.encode(text, true, false));
}

// Checks every tokenized input; false (and the request failed) when one is
// unusable.
bool Engine::Impl::prepare_embedding(Sequence& s) {
  const tokenizer::Tokenizer& tok = *s.lm->tok;
  const EmbedRequest& er = *s.req.embed;
  std::vector<std::vector<int32_t>>& inputs = s.embed_inputs;
  const int64_t n_ctx = s.lm->bert ? s.lm->bert->n_ctx() : s.lm->model->hparams().n_ctx_train;
  const int64_t n_vocab = s.lm->bert ? static_cast<int64_t>(tok.vocab().n_tokens()) : s.lm->model->hparams().n_vocab;
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto& ids = inputs[i];
    for (int32_t id : ids)
      if (id < 0 || id >= n_vocab) {
        fail(s, invalid_argument("input[" + std::to_string(i) + "]: token id " + std::to_string(id) + " is outside the vocabulary"));
        return false;
      }
    if (ids.empty()) {
      fail(s, invalid_argument("input[" + std::to_string(i) + "] is empty"));
      return false;
    }
    if (static_cast<int64_t>(ids.size()) > n_ctx) {
      if (!er.truncate) {
        fail(s, invalid_argument("input[" + std::to_string(i) + "] has " + std::to_string(ids.size()) +
                                 " tokens; the context is " + std::to_string(n_ctx)));
        return false;
      }
      ids.resize(static_cast<size_t>(n_ctx));
    }
  }
  s.embed_done.kind = Event::Kind::kDone;
  if (s.embed_inputs.empty()) finish_embedding(s);
  return true;
}

// Embeds the request's next input; the last one sends the result.
void Engine::Impl::embed_step(Sequence& s) {
  const EmbedRequest& er = *s.req.embed;
  const std::vector<int32_t>& ids = s.embed_inputs[s.embed_next];
  std::vector<float> vec;
  if (s.lm->bert) {
    auto e = s.lm->bert->embed(ws, ids, s.lm->bert->default_pooling());
    if (!e.ok()) return fail(s, e.status());
    vec = std::move(e.value());
  } else {
    const auto& hp = s.lm->model->hparams();
    model::KvCache kv(hp, static_cast<int64_t>(ids.size()));
    std::vector<model::BatchToken> batch;
    for (size_t t = 0; t < ids.size(); ++t) batch.push_back({ids[t], static_cast<int64_t>(t), &kv, false});
    std::vector<float> logits, hidden;
    Status st = s.lm->model->forward(ws, batch, &logits, &hidden);
    if (!st.ok()) return fail(s, st);
    vec.assign(static_cast<size_t>(hp.n_embd), 0.0f);
    for (size_t t = 0; t < ids.size(); ++t)
      for (int64_t k = 0; k < hp.n_embd; ++k) vec[k] += hidden[t * hp.n_embd + k] / static_cast<float>(ids.size());
  }
  if (er.dimensions > 0 && static_cast<size_t>(er.dimensions) < vec.size()) vec.resize(static_cast<size_t>(er.dimensions));
  if (er.normalize) {
    double ss = 0;
    for (float x : vec) ss += static_cast<double>(x) * x;
    float inv = ss > 0 ? static_cast<float>(1.0 / std::sqrt(ss)) : 0.0f;
    for (float& x : vec) x *= inv;
  }
  s.embed_done.usage.prompt_tokens += static_cast<int64_t>(ids.size());
  s.embed_done.embeddings.push_back(std::move(vec));
  if (++s.embed_next == s.embed_inputs.size()) finish_embedding(s);
}

void Engine::Impl::finish_embedding(Sequence& s) {
  Event& ev = s.embed_done;
  auto now = Clock::now();
  ev.timings.total = ns_between(s.t_submit, now);
  ev.timings.load = s.load_ns;
  ev.timings.prompt_eval = ns_between(s.t_submit, now);
  e.metrics_.add("prompt_tokens_total", s.req.model, static_cast<double>(ev.usage.prompt_tokens));
  e.metrics_.add("requests_total", s.req.model, 1);
  push_done(s, std::move(ev));
}

}  // namespace hearth::runtime
