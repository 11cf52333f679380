// The scheduler: admission against the KV budget, one forward pass per model
// and step over its running sequences (decode tokens first, then prompt
// chunks), sampling and streaming. See engine_impl.h for the other parts.
#include <algorithm>
#include <filesystem>
#include <new>

#include "runtime/batch_plan.h"
#include "runtime/engine_impl.h"

namespace hearth::runtime {

int64_t ns_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
}
double seconds_between(Clock::time_point a, Clock::time_point b) { return ns_between(a, b) / 1e9; }

Engine::Impl::Impl(Engine& eng, EngineConfig c)
    : e(eng), cfg(std::move(c)), prompt_cache(cfg.prompt_cache_entries), ws(cfg.threads) {
  if (!cfg.store_home.empty()) {
    store = std::make_unique<store::Store>(cfg.store_home);
    // FROM may name a file of the models directory, as it names store models.
    if (!cfg.models_dir.empty())
      store->set_external_models([this](const std::string& name) -> std::optional<std::string> {
        auto n = normalize_model_name(name);
        std::error_code ec;
        if (!n.ok() || !std::filesystem::is_regular_file(path_for(n.value()), ec)) return std::nullopt;
        return path_for(n.value());
      });
  }
  loader = std::thread([this] { load_loop(); });
  preparer = std::thread([this] { prepare_loop(); });
  thread = std::thread([this] { loop(); });
}

// The scheduler finishes what was submitted (loads not yet started fail
// their requests); then the loader stops.
Engine::Impl::~Impl() {
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
  }
  cv.notify_all();
  loader_cv.notify_all();
  thread.join();
  {
    std::lock_guard<std::mutex> lock(mu);
    stop_loader = true;
  }
  loader_cv.notify_all();
  loader.join();
  {
    std::lock_guard<std::mutex> lock(mu);
    stop_preparer = true;
  }
  prepare_cv.notify_all();
  preparer.join();
}

void Engine::Impl::push_done(Sequence& s, Event ev) {
  settle_keep_alive(s);
  s.stream->push(std::move(ev));
  s.done = true;
}

void Engine::Impl::fail(Sequence& s, Status st) {
  Event ev;
  ev.kind = Event::Kind::kError;
  ev.error = std::move(st);
  s.stream->push(std::move(ev));
  s.done = true;
}

// Finds its model (or has it loaded and parks the request), has its prompt
// rendered and tokenized on the preparer thread, then reserves the KV cache.
Engine::Impl::Admission Engine::Impl::admit(Sequence& s) {
  if (!s.lm) {  // (set when it comes back from waiting for the load)
    auto res = resolve(s.req.model);
    if (!res.ok()) {
      fail(s, res.status());
      return Admission::kDone;
    }
    s.lm = find_loaded(res.value());
    if (!s.lm) {
      s.load_key = res->key;
      request_load(std::move(res.value()));
      return Admission::kParked;
    }
  }
  if (s.req.load_only) {  // loaded: done (release sets its keep_alive)
    s.t_admit = Clock::now();
    hold_model(s);
    Event ev;
    ev.kind = Event::Kind::kDone;
    ev.timings.total = ns_between(s.t_submit, s.t_admit);
    ev.timings.load = s.load_ns;
    push_done(s, std::move(ev));
    return Admission::kDone;
  }
  if (!s.req.embed && !s.lm->model) {
    fail(s, invalid_argument("model '" + s.req.model + "' is an embedding model; it cannot generate text"));
    return Admission::kDone;
  }
  if (!s.prepared) {
    if (request_text_bytes(s.req) > kInlinePrepareBytes) {
      hold_model(s);  // (its model stays loaded meanwhile)
      return Admission::kPreparing;
    }
    prepare(s);
    s.prepared = true;
  }
  if (s.req.embed) {
    if (prepare_embedding(s)) {  // embedded one input per step (embed_step)
      s.t_admit = Clock::now();
      hold_model(s);
    }
    return Admission::kDone;
  }
  const auto& hp = s.lm->model->hparams();
  if (!s.prompt_status.ok()) {
    fail(s, s.prompt_status);
    return Admission::kDone;
  }
  if (s.req.count_only) {
    s.t_admit = Clock::now();
    hold_model(s);  // (release gives it back and sets its keep_alive)
    Event ev;
    ev.kind = Event::Kind::kDone;
    ev.usage.prompt_tokens = static_cast<int64_t>(s.prompt.size());
    ev.timings.total = ns_between(s.t_submit, s.t_admit);
    ev.timings.load = s.load_ns;
    push_done(s, std::move(ev));
    return Admission::kDone;
  }
  if (s.prompt.empty()) {
    fail(s, invalid_argument("the prompt is empty"));
    return Admission::kDone;
  }
  int64_t n_ctx = s.req.num_ctx > 0 ? s.req.num_ctx : std::min(cfg.default_num_ctx, hp.n_ctx_train);
  if (n_ctx > hp.n_ctx_train) n_ctx = hp.n_ctx_train;
  if (static_cast<int64_t>(s.prompt.size()) >= n_ctx) {
    fail(s, invalid_argument("the prompt has " + std::to_string(s.prompt.size()) + " tokens but the context is " +
                             std::to_string(n_ctx) + " (set num_ctx / use a shorter prompt)"));
    return Admission::kDone;
  }
  const tensor::KvType kv_type = tensor::kv_type_fits(cfg.kv_type, hp.head_dim) ? cfg.kv_type : tensor::KvType::kF16;
  // What the cache allocates, so that releasing it (kv_used -= bytes())
  // gives back exactly what admitting it took.
  const size_t bytes = model::KvCache::bytes_for(hp, n_ctx, kv_type);
  if (bytes > cfg.kv_budget_bytes) {
    fail(s, invalid_argument("a context of " + std::to_string(n_ctx) + " tokens needs more KV cache than the server's budget"));
    return Admission::kDone;
  }
  // The prompt cache's entry sharing the longest prefix, if any: its
  // positions up to there are kept, the rest of the prompt is evaluated.
  PromptCache::Hit hit = prompt_cache.take(s.lm, n_ctx, kv_type, s.prompt);
  if (hit.kv) {
    s.kv = std::move(hit.kv);  // already counted in kv_used
    s.n_prefilled = s.n_cached = hit.reuse;
    e.metrics_.add("prompt_cache_hit_tokens_total", s.req.model, static_cast<double>(hit.reuse));
  } else {
    // Cached entries make room, least recently stored first.
    while (kv_used + bytes > cfg.kv_budget_bytes && prompt_cache.size() > 0)
      kv_used -= prompt_cache.evict_oldest()->bytes();
    if (kv_used + bytes > cfg.kv_budget_bytes) return Admission::kNoMemory;  // wait for memory
    try {
      s.kv = std::make_unique<model::KvCache>(hp, n_ctx, kv_type);
    } catch (const std::bad_alloc&) {  // the system refused the memory: this request fails, the server goes on
      fail(s, unavailable("cannot allocate the KV cache of " + std::to_string(bytes >> 20) + " MiB for a context of " +
                          std::to_string(n_ctx) + " tokens"));
      return Admission::kDone;
    }
    kv_used += s.kv->bytes();
  }
  s.history = s.prompt;
  Status valid = s.req.sampling.validate(static_cast<int32_t>(hp.n_vocab));
  if (!valid.ok()) {
    fail(s, valid);
    return Admission::kDone;
  }
  s.chain = std::make_unique<sampling::SamplerChain>(s.req.sampling, static_cast<int32_t>(hp.n_vocab));
  // JSON mode constrains the answer: from the end of the reasoning when the
  // prompt opened it (split_reply), else from the first token (a reply that
  // must be JSON cannot open a reasoning block of its own).
  if (s.req.json_schema && !(s.thinking && s.thinking->inside())) constrain_json(s, "");
  s.detok = std::make_unique<tokenizer::IncrementalDetokenizer>(*s.lm->tok, false);
  s.stop = std::make_unique<sampling::StopMatcher>(s.req.stop);
  if (s.req.messages && s.req.tools) {
    auto names = chat::tool_names(*s.req.tools);
    if (!names.empty()) s.tool_calls = std::make_unique<chat::ToolCallFilter>(std::move(names));
  }
  s.t_admit = Clock::now();
  hold_model(s);
  e.metrics_.observe("request_queue_time_seconds", s.req.model, seconds_between(s.t_submit, s.t_admit));
  e.metrics_.add("prompt_tokens_total", s.req.model, static_cast<double>(s.prompt.size()));
  return Admission::kDone;
}

void Engine::Impl::constrain_json(Sequence& s, std::string_view answer_so_far) {
  std::shared_ptr<const tokenizer::Tokenizer> tok = s.lm->tok;
  auto c = std::make_unique<sampling::JsonConstraint>(
      tok->pieces(), [tok](int32_t id) { return tok->is_eog(id); }, s.req.json_schema);
  c->accept_text(answer_so_far);
  s.chain->constrain(std::move(c));
}

// The text a token added, split into reasoning and answer (thinking on), the
// answer's tool calls held back (tools offered). `end`: the reply is over.
void Engine::Impl::split_reply(Sequence& s, std::string text, Event& ev, bool end) {
  if (s.thinking) {
    const bool was_done = s.thinking->done();
    chat::ThinkingParser::Split sp = s.thinking->push(text);
    if (end) {
      chat::ThinkingParser::Split rest = s.thinking->finish();
      sp.thinking += rest.thinking;
      sp.content += rest.content;
    }
    ev.thinking = std::move(sp.thinking);
    text = std::move(sp.content);
    if (!was_done && s.thinking->done() && s.req.json_schema && !s.chain->constrained() && !end) constrain_json(s, text);
  }
  if (s.tool_calls) text = s.tool_calls->push(text);
  ev.text = std::move(text);
}

void Engine::Impl::finish(Sequence& s, sampling::FinishReason why) {
  std::string rest = s.stop->stopped() ? "" : s.stop->push(s.detok->flush());
  if (!s.stop->stopped()) rest += s.stop->flush();
  Event t;
  t.kind = Event::Kind::kToken;
  split_reply(s, std::move(rest), t, true);
  rest = std::move(t.text);
  std::vector<chat::ToolCall> calls;
  if (s.tool_calls) {
    chat::ParsedReply reply = s.tool_calls->finish();
    rest += reply.content;
    calls = std::move(reply.calls);
  }
  if (!rest.empty() || !t.thinking.empty()) {
    t.text = std::move(rest);
    s.stream->push(std::move(t));
  }
  auto now = Clock::now();
  Event ev;
  ev.kind = Event::Kind::kDone;
  ev.finish = why;
  ev.tool_calls = std::move(calls);
  if (s.req.return_context) ev.context = s.history;  // the prompt, then each generated token
  if (s.stop->stopped()) ev.stop_sequence = s.stop->matched();
  ev.usage = {static_cast<int64_t>(s.prompt.size()), s.n_generated, static_cast<int64_t>(s.n_cached)};
  ev.timings.total = ns_between(s.t_submit, now);
  ev.timings.load = s.load_ns;
  ev.timings.queue = ns_between(s.t_submit, s.t_admit);
  ev.timings.prompt_eval = ns_between(s.t_admit, s.n_generated ? s.t_first : now);
  ev.timings.eval = s.n_generated ? ns_between(s.t_first, now) : 0;
  e.metrics_.observe("e2e_request_latency_seconds", s.req.model, seconds_between(s.t_submit, now));
  e.metrics_.add("generation_tokens_total", s.req.model, s.n_generated);
  e.metrics_.add("requests_total", s.req.model, 1);
  push_done(s, std::move(ev));
}

void Engine::Impl::release(Sequence& s) {
  if (s.kv) {
    // The cache holds the tokens fed so far: the prompt, then each sampled
    // token but the last (history is prompt + sampled, in feeding order).
    std::vector<int32_t> fed;
    if (s.kv_valid && s.lm && s.lm->model && s.kv->n_past > 0 &&
        static_cast<size_t>(s.kv->n_past) <= s.history.size())
      fed.assign(s.history.begin(), s.history.begin() + s.kv->n_past);
    for (auto& dropped : prompt_cache.put(s.lm, std::move(s.kv), std::move(fed))) kv_used -= dropped->bytes();
  }
  s.kv.reset();
  drop_model(s);
  // The last reference to a model unloaded meanwhile goes with the sequence:
  // the pool stops reading ahead into its weights first.
  if (s.lm && s.lm.use_count() == 1) ws.pool.stop_warming();
  s.lm.reset();
  e.in_flight_--;
}

// Samples from one logits row and streams the token; true when finished.
bool Engine::Impl::on_logits(Sequence& s, std::span<const float> row) {
  auto now = Clock::now();
  int32_t next = s.chain->sample(row, s.history);
  const tokenizer::Tokenizer& tok = *s.lm->tok;
  if (tok.is_eog(next)) {
    finish(s, sampling::FinishReason::kStop);
    return true;
  }
  if (s.n_generated == 0) {
    s.t_first = now;
    e.metrics_.observe("time_to_first_token_seconds", s.req.model, seconds_between(s.t_submit, now));
  } else {
    e.metrics_.observe("inter_token_latency_seconds", s.req.model, seconds_between(s.t_last, now));
  }
  s.t_last = now;
  s.n_generated++;
  s.history.push_back(next);
  Event ev;
  ev.kind = Event::Kind::kToken;
  std::string piece = tok.piece(next);
  split_reply(s, s.stop->push(s.detok->push(next)), ev, false);
  if (s.req.top_logprobs >= 0) {
    auto lp = sampling::compute_logprobs(row, next, s.req.top_logprobs);
    TokenLogprob t{piece, lp.logprob, {}};
    for (const auto& a : lp.top) t.top.emplace_back(tok.piece(a.id), a.logprob);
    ev.logprob = std::move(t);
  }
  if (!ev.text.empty() || !ev.thinking.empty() || ev.logprob) s.stream->push(std::move(ev));
  if (s.stop->stopped()) {
    finish(s, sampling::FinishReason::kStop);
    return true;
  }
  if (s.req.num_predict >= 0 && s.n_generated >= s.req.num_predict) {
    finish(s, sampling::FinishReason::kLength);
    return true;
  }
  if (s.kv->n_past + 1 > s.kv->n_ctx) {
    finish(s, sampling::FinishReason::kContext);
    return true;
  }
  s.pending = next;
  return false;
}

void Engine::Impl::step() {
  // Embedding requests: one input each per step, beside the decoding.
  for (auto& s : running)
    if (s->req.embed && !s->done) embed_step(*s);
  // Group by model: one forward pass per model over its sequences.
  std::vector<std::shared_ptr<LoadedModel>> order;
  for (auto& s : running)
    if (!s->req.embed && std::find(order.begin(), order.end(), s->lm) == order.end()) order.push_back(s->lm);
  for (auto& lm : order) {
    std::vector<model::BatchToken> batch;
    std::vector<Sequence*> owners;  // per batch token that wants logits
    int64_t budget = cfg.max_batch_tokens;
    for (auto& s : running) {  // decode tokens first: running requests never stall
      if (s->lm != lm || s->done || s->req.embed || s->n_prefilled < s->prompt.size()) continue;
      batch.push_back({s->pending, s->kv->n_past, s->kv.get(), true});
      owners.push_back(s.get());
      --budget;
    }
    // Then prompt tokens, in arrival order (runtime/batch_plan.h).
    std::vector<size_t> remaining(running.size(), 0), take(running.size(), 0);
    for (size_t j = 0; j < running.size(); ++j) {
      const Sequence& s = *running[j];
      if (s.lm == lm && !s.done && !s.req.embed) remaining[j] = s.prompt.size() - std::min(s.n_prefilled, s.prompt.size());
    }
    plan_prompt_chunks(remaining, budget, take);
    for (size_t j = 0; j < running.size(); ++j) {
      Sequence* s = running[j].get();
      for (size_t i = 0; i < take[j]; ++i) {
        bool last = s->n_prefilled + i + 1 == s->prompt.size();
        batch.push_back({s->prompt[s->n_prefilled + i], s->kv->n_past + static_cast<int64_t>(i), s->kv.get(), last});
        if (last) owners.push_back(s);
      }
    }
    if (batch.empty()) continue;
    std::vector<float> logits;
    Status st = lm->model->forward(ws, batch, &logits);
    if (!st.ok()) {
      for (auto& s : running)
        if (s->lm == lm && !s->done && !s->req.embed) {
          s->kv_valid = false;
          fail(*s, st);
        }
      continue;
    }
    // Advance cache positions.
    for (const auto& t : batch) t.kv->n_past = std::max(t.kv->n_past, t.pos + 1);
    for (auto& s : running)
      if (s->lm == lm && s->n_prefilled < s->prompt.size()) s->n_prefilled = static_cast<size_t>(s->kv->n_past);
    const size_t V = static_cast<size_t>(lm->model->hparams().n_vocab);
    for (size_t i = 0; i < owners.size(); ++i)
      if (!owners[i]->done) on_logits(*owners[i], std::span<const float>(logits.data() + i * V, V));
  }
}

void Engine::Impl::loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(running.empty() ? 200 : 0), [&] {
        return (stop && parked.empty() && n_preparing == 0) || !waiting.empty() || !running.empty() ||
               loads_finished > 0 || !prepared.empty();
      });
      if (stop && waiting.empty() && running.empty() && parked.empty() && n_preparing == 0) return;
      // Prepared prompts go back to the front of the queue, in the order they were handed over.
      for (auto it = prepared.rbegin(); it != prepared.rend(); ++it) waiting.push_front(std::move(*it));
      n_preparing -= prepared.size();
      prepared.clear();
    }
    collect_loads();
    const size_t n_parked_before = parked.size();
    for (auto it = parked.begin(); it != parked.end();) {  // cancelled while their model loads
      if ((*it)->stream->cancelled()) {
        release(**it);
        it = parked.erase(it);
      } else {
        ++it;
      }
    }
    if (parked.size() != n_parked_before) count_parked();
    // Admission, FIFO, bounded by max_running and the KV budget.
    for (;;) {
      std::unique_ptr<Sequence> s;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (waiting.empty() || running.size() >= cfg.max_running) break;
        s = std::move(waiting.front());
        waiting.pop_front();
      }
      if (s->stream->cancelled()) {
        release(*s);
        continue;
      }
      const Admission a = admit(*s);
      if (a == Admission::kNoMemory) {  // no KV memory yet: put it back at the front
        std::lock_guard<std::mutex> lock(mu);
        waiting.push_front(std::move(s));
        break;
      }
      if (a == Admission::kParked) {  // its model is loading: the others go on
        parked.push_back(std::move(s));
        count_parked();
        continue;
      }
      if (a == Admission::kPreparing) {  // its prompt is tokenized on the preparer thread: the others go on
        {
          std::lock_guard<std::mutex> lock(mu);
          to_prepare.push_back(std::move(s));
          ++n_preparing;
        }
        prepare_cv.notify_one();
        continue;
      }
      if (s->done) {
        release(*s);
        continue;
      }
      running.push_back(std::move(s));
    }
    // Cancelled requests free their sequence within this step.
    for (auto& s : running)
      if (!s->done && s->stream->cancelled()) s->done = true;
    step();
    // A model whose file shrank under it (rewritten in place while loaded)
    // has read zeros since: its requests end with the reason, new ones load
    // the file again.
    for (auto& s : running)
      if (!s->done && s->lm && s->lm->file_lost()) {
        mark_stale(*s->lm);
        fail(*s, unavailable("model '" + s->req.model + "': its file " + s->lm->path +
                             " shrank on disk while in use; the request was stopped (the next one loads the file again)"));
      }
    // A finished sequence may hold the last reference to its model (since
    // unloaded): the pool stops reading ahead into its weights first.
    if (std::any_of(running.begin(), running.end(), [](const auto& s) { return s->done; })) ws.pool.stop_warming();
    for (auto it = running.begin(); it != running.end();) {
      if ((*it)->done) {
        release(**it);
        it = running.erase(it);
      } else {
        ++it;
      }
    }
    evict_expired();
    for (auto& dropped : prompt_cache.drop_stale()) kv_used -= dropped->bytes();
    size_t n_wait;
    {
      std::lock_guard<std::mutex> lock(mu);
      n_wait = waiting.size() + parked.size() + n_preparing;  // parked: waiting for their model to load
    }
    e.metrics_.set_gauge("num_requests_running", static_cast<double>(running.size()));
    e.metrics_.set_gauge("num_requests_waiting", static_cast<double>(n_wait));
    // In use by running sequences (the prompt cache's entries give way).
    const size_t in_use = kv_used - prompt_cache.bytes();
    e.metrics_.set_gauge("kv_cache_usage_perc", cfg.kv_budget_bytes ? static_cast<double>(in_use) / cfg.kv_budget_bytes : 0);
    e.metrics_.set_gauge("prompt_cache_entries", static_cast<double>(prompt_cache.size()));
  }
}

Engine::Engine(EngineConfig config) : impl_(std::make_unique<Impl>(*this, std::move(config))) {}
Engine::~Engine() = default;

Result<std::shared_ptr<RequestStream>> Engine::submit(GenerateRequest request) {
  if (draining_) return unavailable("the server is shutting down");
  HEARTH_ASSIGN_OR_RETURN(auto resolved, impl_->resolve(request.model));
  (void)resolved;
  auto s = std::make_unique<Sequence>();
  s->req = std::move(request);
  s->stream = std::make_shared<RequestStream>();
  s->t_submit = Clock::now();
  auto stream = s->stream;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->waiting.size() + impl_->n_parked + impl_->n_preparing >= impl_->cfg.max_waiting)
      return unavailable("too many requests are waiting");
    impl_->waiting.push_back(std::move(s));
    in_flight_++;
  }
  impl_->cv.notify_one();
  return stream;
}

}  // namespace hearth::runtime
