#include "runtime/engine.h"
#include "runtime/prompt_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <new>

#include "chat/chat_template.h"
#include "runtime/batch_plan.h"
#include "runtime/sequence.h"

namespace hearth::runtime {

namespace {

int64_t ns_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
}
double seconds_between(Clock::time_point a, Clock::time_point b) { return ns_between(a, b) / 1e9; }

std::string rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

Result<std::string> normalize_model_name(const std::string& raw) {
  std::string name = raw;
  if (name.size() > 7 && name.compare(name.size() - 7, 7, ":latest") == 0) name.resize(name.size() - 7);
  if (name.empty() || name.size() > 200) return invalid_argument("model name must be 1 to 200 characters");
  for (unsigned char c : name)
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':'))
      return invalid_argument("model name '" + raw + "' has characters other than letters, digits, '-', '_', '.', ':'");
  if (name[0] == '.') return invalid_argument("model name '" + raw + "' must not start with '.'");
  return name;
}

struct Engine::Impl {
  Engine& e;
  EngineConfig cfg;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::unique_ptr<Sequence>> waiting;
  std::vector<std::unique_ptr<Sequence>> running;  // scheduler thread only
  std::vector<std::shared_ptr<LoadedModel>> models;  // guarded by mu for readers
  size_t kv_used = 0;  // KV caches of running sequences and of the prompt cache
  PromptCache prompt_cache;
  bool stop = false;
  model::Workspace ws;
  std::unique_ptr<store::Store> store;
  std::thread thread;

  Impl(Engine& eng, EngineConfig c)
      : e(eng), cfg(std::move(c)), prompt_cache(cfg.prompt_cache_entries), ws(cfg.threads) {
    if (!cfg.store_home.empty()) store = std::make_unique<store::Store>(cfg.store_home);
    thread = std::thread([this] { loop(); });
  }
  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    thread.join();
  }

  std::string path_for(const std::string& name) const { return cfg.models_dir + "/" + name + ".gguf"; }

  struct Resolved {
    std::string key;   // the name models are loaded and reported under
    std::string path;  // the GGUF
    std::optional<store::Manifest> manifest;
    std::string modified_at;
  };

  // A store model first, then a file of the models directory.
  Result<Resolved> resolve(const std::string& raw) const {
    if (store) {
      auto sm = store->get(raw);
      if (sm.ok()) return Resolved{sm->name.display(), store->blob_path(sm->manifest.model_digest), sm->manifest, sm->modified_at};
      if (sm.status().code() == StatusCode::kCorrupt) return sm.status();
    }
    auto n = normalize_model_name(raw);
    if (!n.ok()) {
      if (store && store::parse_model_name(raw).ok()) return not_found("model '" + raw + "' not found");
      return n.status();
    }
    std::string path = path_for(n.value());
    if (!std::filesystem::exists(path)) return not_found("model '" + raw + "' not found");
    return Resolved{n.value(), path, std::nullopt, ""};
  }

  void fail(Sequence& s, Status st) {
    Event ev;
    ev.kind = Event::Kind::kError;
    ev.error = std::move(st);
    s.stream->push(std::move(ev));
    s.done = true;
  }

  Result<std::shared_ptr<LoadedModel>> acquire(const std::string& raw) {
    HEARTH_ASSIGN_OR_RETURN(Resolved res, resolve(raw));
    const std::string& name = res.key;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (auto& m : models)
        if (m->name == name) return m;
    }
    auto t0 = Clock::now();
    struct Loading {
      std::atomic<int>& n;
      explicit Loading(std::atomic<int>& c) : n(c) { ++n; }
      ~Loading() { --n; }
    } loading(e.loading_);
    const std::string& path = res.path;
    HEARTH_ASSIGN_OR_RETURN(gguf::File gf, gguf::File::open(path));
    auto file = std::make_shared<gguf::File>(std::move(gf));
    HEARTH_ASSIGN_OR_RETURN(std::shared_ptr<const tokenizer::Tokenizer> tok, tokenizer::Tokenizer::load(*file));
    auto lm = std::make_shared<LoadedModel>();
    lm->manifest = res.manifest;
    if (res.manifest && res.manifest->modelfile.has_template) {
      HEARTH_ASSIGN_OR_RETURN(lm->go_template, store::GoTemplate::parse(res.manifest->modelfile.template_text));
    }
    if (file->get_string_or("general.architecture", "") == "bert") {
      HEARTH_ASSIGN_OR_RETURN(lm->bert, model::BertModel::from_file(file));
      return register_model(lm, name, path, tok, nullptr, false, file->file_size(), t0);
    }
    HEARTH_ASSIGN_OR_RETURN(std::shared_ptr<model::Model> m, model::Model::from_file(file));
    if (res.manifest)
      for (const auto& digest : res.manifest->adapter_digests) {  // Modelfile ADAPTERs
        HEARTH_ASSIGN_OR_RETURN(gguf::File af, gguf::File::open(store->blob_path(digest)));
        HEARTH_RETURN_IF_ERROR(m->apply_lora(std::make_shared<gguf::File>(std::move(af))));
      }
    std::string src = m->file().get_string_or("tokenizer.chat_template", "");
    bool own = !src.empty();
    if (src.empty()) src = chat::builtin_template_source("chatml").value();
    auto tmpl = chat::jinja::Template::parse(src);
    if (!tmpl.ok()) {
      own = false;
      tmpl = chat::jinja::Template::parse(chat::builtin_template_source("chatml").value());
    }
    lm->model = m;
    return register_model(lm, name, path, tok, tmpl.value(), own, m->file().file_size(), t0);
  }

  std::shared_ptr<LoadedModel> register_model(std::shared_ptr<LoadedModel> lm, const std::string& name,
                                              const std::string& path, std::shared_ptr<const tokenizer::Tokenizer> tok,
                                              std::shared_ptr<const chat::jinja::Template> tmpl, bool own, size_t bytes,
                                              Clock::time_point t0) {
    lm->name = name;
    lm->path = path;
    lm->tok = std::move(tok);
    lm->tmpl = std::move(tmpl);
    lm->has_own_template = own;
    lm->bytes = bytes;
    lm->load_ns = ns_between(t0, Clock::now());
    lm->last_used = Clock::now();
    std::lock_guard<std::mutex> lock(mu);
    // Least recently used idle models make room within the memory budget.
    size_t budget = cfg.model_memory_budget;
    if (budget == 0) budget = static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<size_t>(sysconf(_SC_PAGE_SIZE)) / 4 * 3;
    auto used = [&] {
      size_t u = 0;
      for (const auto& m : models) u += m->bytes;
      return u;
    };
    while (!models.empty() && used() + bytes > budget) {
      auto victim = std::min_element(models.begin(), models.end(), [](const auto& a, const auto& b) {
        return (a->active == 0 ? a->last_used : Clock::time_point::max()) <
               (b->active == 0 ? b->last_used : Clock::time_point::max());
      });
      if ((*victim)->active != 0) break;  // everything is busy: load anyway
      ws.pool.stop_warming();  // the pool may be reading its weights (ThreadPool::warm_after_next_job)
      models.erase(victim);
    }
    models.push_back(lm);
    return lm;
  }

  // Renders, tokenizes and reserves the KV cache; false when it must wait.
  bool admit(Sequence& s) {
    auto lm = acquire(s.req.model);
    if (!lm.ok()) {
      fail(s, lm.status());
      return true;
    }
    s.lm = lm.value();
    if (s.req.embed) {
      if (prepare_embedding(s)) {  // embedded one input per step (embed_step)
        s.t_admit = Clock::now();
        s.lm->active++;
        s.counted = true;
      }
      return true;
    }
    if (!s.lm->model) {
      fail(s, invalid_argument("model '" + s.req.model + "' is an embedding model; it cannot generate text"));
      return true;
    }
    const auto& hp = s.lm->model->hparams();
    const tokenizer::Tokenizer& tok = *s.lm->tok;
    std::string text;
    bool templated = false;
    const store::Modelfile* mf = s.lm->manifest ? &s.lm->manifest->modelfile : nullptr;
    if (mf && mf->has_system && s.req.system.empty() && !s.req.raw) {
      bool has_system_message = false;
      if (s.req.messages)
        for (const auto& m : *s.req.messages) has_system_message |= m.value("role", "") == "system";
      if (!has_system_message) s.req.system = mf->system;
    }
    if (s.lm->go_template && !s.req.raw) {
      // The Modelfile TEMPLATE (Go template syntax) decides the prompt.
      nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
      if (mf)
        for (const auto& [r, c] : mf->messages) msgs.push_back({{"Role", r}, {"Content", c}});
      std::string system = s.req.system, prompt = s.req.prompt;
      if (s.req.messages) {
        for (const auto& m : *s.req.messages) {
          std::string role = m.value("role", ""), content = m.contains("content") && m["content"].is_string() ? m["content"].get<std::string>() : "";
          if (role == "system") system = content;
          else msgs.push_back({{"Role", role}, {"Content", content}});
          if (role == "user") prompt = content;
        }
      } else {
        msgs.push_back({{"Role", "user"}, {"Content", prompt}});
      }
      nlohmann::ordered_json data = {{"System", system}, {"Prompt", prompt}, {"Response", ""}, {"Messages", msgs},
                                     {"Tools", s.req.tools ? *s.req.tools : nlohmann::ordered_json::array()}};
      auto r = s.lm->go_template->render(data);
      if (!r.ok()) {
        fail(s, r.status());
        return true;
      }
      text = r.value();
      templated = true;
    } else if (s.req.template_prompt && !s.req.raw && s.lm->has_own_template)
      s.req.messages = nlohmann::ordered_json::array({{{"role", "user"}, {"content", s.req.prompt}}});
    else if (s.req.template_prompt && !s.req.system.empty())
      s.req.prompt = s.req.system + "\n\n" + s.req.prompt;
    if (!templated && s.req.messages && !s.req.raw) {
      chat::RenderRequest rr;
      rr.messages = *s.req.messages;
      if (!s.req.system.empty()) rr.messages.insert(rr.messages.begin(), {{"role", "system"}, {"content", s.req.system}});
      rr.tools = s.req.tools;
      rr.add_generation_prompt = true;
      const auto& v = tok.vocab();
      if (v.bos != tokenizer::kNoToken) rr.bos_token = v.tokens[v.bos].text;
      if (v.eos != tokenizer::kNoToken) rr.eos_token = v.tokens[v.eos].text;
      auto r = chat::render(*s.lm->tmpl, rr);
      if (!r.ok()) {
        fail(s, r.status());
        return true;
      }
      text = r.value();
      templated = true;
    } else if (!templated) {
      text = s.req.prompt;
    }
    if (templated) {
      s.prompt = tok.encode(text, false, true);
      const auto& v = tok.vocab();
      if (v.add_bos && v.bos != tokenizer::kNoToken && (s.prompt.empty() || s.prompt[0] != v.bos))
        s.prompt.insert(s.prompt.begin(), v.bos);
    } else {
      s.prompt = tok.encode(text, true, false);
    }
    if (s.prompt.empty()) {
      fail(s, invalid_argument("the prompt is empty"));
      return true;
    }
    int64_t n_ctx = s.req.num_ctx > 0 ? s.req.num_ctx : std::min(cfg.default_num_ctx, hp.n_ctx_train);
    if (n_ctx > hp.n_ctx_train) n_ctx = hp.n_ctx_train;
    if (static_cast<int64_t>(s.prompt.size()) >= n_ctx) {
      fail(s, invalid_argument("the prompt has " + std::to_string(s.prompt.size()) + " tokens but the context is " +
                               std::to_string(n_ctx) + " (set num_ctx / use a shorter prompt)"));
      return true;
    }
    const tensor::KvType kv_type = tensor::kv_type_fits(cfg.kv_type, hp.head_dim) ? cfg.kv_type : tensor::KvType::kF16;
    // What the cache allocates, so that releasing it (kv_used -= bytes())
    // gives back exactly what admitting it took.
    const size_t bytes = model::KvCache::bytes_for(hp, n_ctx, kv_type);
    if (bytes > cfg.kv_budget_bytes) {
      fail(s, invalid_argument("a context of " + std::to_string(n_ctx) + " tokens needs more KV cache than the server's budget"));
      return true;
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
      if (kv_used + bytes > cfg.kv_budget_bytes) return false;  // wait for memory
      try {
        s.kv = std::make_unique<model::KvCache>(hp, n_ctx, kv_type);
      } catch (const std::bad_alloc&) {  // the system refused the memory: this request fails, the server goes on
        fail(s, unavailable("cannot allocate the KV cache of " + std::to_string(bytes >> 20) + " MiB for a context of " +
                            std::to_string(n_ctx) + " tokens"));
        return true;
      }
      kv_used += s.kv->bytes();
    }
    s.history = s.prompt;
    Status valid = s.req.sampling.validate(static_cast<int32_t>(hp.n_vocab));
    if (!valid.ok()) {
      fail(s, valid);
      return true;
    }
    s.chain = std::make_unique<sampling::SamplerChain>(s.req.sampling, static_cast<int32_t>(hp.n_vocab));
    s.detok = std::make_unique<tokenizer::IncrementalDetokenizer>(tok, false);
    s.stop = std::make_unique<sampling::StopMatcher>(s.req.stop);
    s.t_admit = Clock::now();
    s.lm->active++;
    s.counted = true;
    e.metrics_.observe("request_queue_time_seconds", s.req.model, seconds_between(s.t_submit, s.t_admit));
    e.metrics_.add("prompt_tokens_total", s.req.model, static_cast<double>(s.prompt.size()));
    return true;
  }

  // Embedding requests run beside the decoding: checked at admission, then
  // one input per scheduler step (embed_step), so that a long batch of
  // documents delays each step of the running chats by one input's time,
  // not by the whole batch. This tokenizes and checks every input; false
  // (and the request failed) when one is unusable.
  bool prepare_embedding(Sequence& s) {
    const EmbedRequest& er = *s.req.embed;
    const tokenizer::Tokenizer& tok = *s.lm->tok;
    std::vector<std::vector<int32_t>> inputs = er.token_inputs;
    for (const auto& text : er.inputs) inputs.push_back(tok.encode(text, true, false));
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
    s.embed_inputs = std::move(inputs);
    s.embed_done.kind = Event::Kind::kDone;
    if (s.embed_inputs.empty()) finish_embedding(s);
    return true;
  }

  // Embeds the request's next input; the last one sends the result.
  void embed_step(Sequence& s) {
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

  void finish_embedding(Sequence& s) {
    Event& ev = s.embed_done;
    auto now = Clock::now();
    ev.timings.total = ns_between(s.t_submit, now);
    ev.timings.load = s.lm->load_ns;
    ev.timings.prompt_eval = ns_between(s.t_submit, now);
    e.metrics_.add("prompt_tokens_total", s.req.model, static_cast<double>(ev.usage.prompt_tokens));
    e.metrics_.add("requests_total", s.req.model, 1);
    s.stream->push(std::move(ev));
    s.done = true;
  }

  void finish(Sequence& s, sampling::FinishReason why) {
    std::string rest = s.stop->stopped() ? "" : s.stop->push(s.detok->flush());
    if (!s.stop->stopped()) rest += s.stop->flush();
    if (!rest.empty()) {
      Event t;
      t.kind = Event::Kind::kToken;
      t.text = rest;
      s.stream->push(std::move(t));
    }
    auto now = Clock::now();
    Event ev;
    ev.kind = Event::Kind::kDone;
    ev.finish = why;
    ev.usage = {static_cast<int64_t>(s.prompt.size()), s.n_generated, static_cast<int64_t>(s.n_cached)};
    ev.timings.total = ns_between(s.t_submit, now);
    ev.timings.load = s.lm->load_ns;
    ev.timings.queue = ns_between(s.t_submit, s.t_admit);
    ev.timings.prompt_eval = ns_between(s.t_admit, s.n_generated ? s.t_first : now);
    ev.timings.eval = s.n_generated ? ns_between(s.t_first, now) : 0;
    s.stream->push(std::move(ev));
    e.metrics_.observe("e2e_request_latency_seconds", s.req.model, seconds_between(s.t_submit, now));
    e.metrics_.add("generation_tokens_total", s.req.model, s.n_generated);
    e.metrics_.add("requests_total", s.req.model, 1);
    s.done = true;
  }

  void release(Sequence& s) {
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
    if (s.lm && s.counted) {
      --s.lm->active;
      s.lm->last_used = Clock::now();
      double ka = s.req.keep_alive_s.value_or(cfg.default_keep_alive_s);
      std::lock_guard<std::mutex> lock(mu);
      s.lm->forever = ka < 0;
      s.lm->expires = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(std::max(0.0, ka) * 1000));
      s.lm->expires_wall = std::chrono::system_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(std::max(0.0, ka) * 1000));
    }
    e.in_flight_--;
  }

  // Samples from one logits row and streams the token; true when finished.
  bool on_logits(Sequence& s, std::span<const float> row) {
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
    ev.text = s.stop->push(s.detok->push(next));
    if (s.req.top_logprobs >= 0) {
      auto lp = sampling::compute_logprobs(row, next, s.req.top_logprobs);
      TokenLogprob t{piece, lp.logprob, {}};
      for (const auto& a : lp.top) t.top.emplace_back(tok.piece(a.id), a.logprob);
      ev.logprob = std::move(t);
    }
    if (!ev.text.empty() || ev.logprob) s.stream->push(std::move(ev));
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

  void step() {
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

  // Unloads the idle models past their keep_alive (Engine::unload expires
  // them at once). On the scheduler thread only: the pool stops reading
  // ahead into their weights first.
  void evict_expired() {
    std::lock_guard<std::mutex> lock(mu);
    auto now = Clock::now();
    auto expired = [&](const auto& m) { return m->active == 0 && !m->forever && now >= m->expires; };
    if (std::none_of(models.begin(), models.end(), expired)) return;
    ws.pool.stop_warming();
    models.erase(std::remove_if(models.begin(), models.end(), expired), models.end());
  }

  void loop() {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait_for(lock, std::chrono::milliseconds(running.empty() ? 200 : 0),
                    [&] { return stop || !waiting.empty() || !running.empty(); });
        if (stop && waiting.empty() && running.empty()) return;
      }
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
          e.in_flight_--;
          continue;
        }
        bool admitted = admit(*s);
        if (!admitted) {  // no KV memory yet: put it back at the front
          std::lock_guard<std::mutex> lock(mu);
          waiting.push_front(std::move(s));
          break;
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
        n_wait = waiting.size();
      }
      e.metrics_.set_gauge("num_requests_running", static_cast<double>(running.size()));
      e.metrics_.set_gauge("num_requests_waiting", static_cast<double>(n_wait));
      // In use by running sequences (the prompt cache's entries give way).
      const size_t in_use = kv_used - prompt_cache.bytes();
      e.metrics_.set_gauge("kv_cache_usage_perc", cfg.kv_budget_bytes ? static_cast<double>(in_use) / cfg.kv_budget_bytes : 0);
      e.metrics_.set_gauge("prompt_cache_entries", static_cast<double>(prompt_cache.size()));
    }
  }
};

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
    if (impl_->waiting.size() >= impl_->cfg.max_waiting) return unavailable("too many requests are waiting");
    impl_->waiting.push_back(std::move(s));
    in_flight_++;
  }
  impl_->cv.notify_one();
  return stream;
}

std::vector<ModelFileInfo> Engine::list_models() const {
  std::vector<ModelFileInfo> out;
  if (impl_->store)
    for (const auto& m : impl_->store->list()) {
      auto info = find_model(m.name.display());
      if (info.ok()) out.push_back(info.value());
    }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(impl_->cfg.models_dir, ec)) {
    if (entry.path().extension() != ".gguf") continue;
    auto info = find_model(entry.path().stem().string());
    if (info.ok()) out.push_back(info.value());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

Result<ModelFileInfo> Engine::find_model(const std::string& raw) const {
  HEARTH_ASSIGN_OR_RETURN(auto res, impl_->resolve(raw));
  ModelFileInfo i;
  i.name = res.key;
  i.path = res.path;
  struct stat st {};
  if (::stat(i.path.c_str(), &st) != 0) return not_found("model '" + raw + "' not found");
  i.size = static_cast<size_t>(st.st_size);
  i.modified_at = rfc3339(std::chrono::system_clock::from_time_t(st.st_mtime));
  if (res.manifest) {
    i.digest = res.manifest->model_digest.substr(7);
    i.modified_at = res.modified_at;
  } else {
    char digest[64];
    std::snprintf(digest, sizeof digest, "%016llx%016llx", static_cast<unsigned long long>(st.st_size),
                  static_cast<unsigned long long>(st.st_mtime));
    i.digest = digest;
  }
  auto f = gguf::File::open(i.path);
  if (f.ok()) {
    i.architecture = f->get_string_or("general.architecture", "");
    int64_t params = 0;
    std::map<std::string, size_t> bytes;
    for (const auto& t : f->tensors()) {
      params += t.n_elements();
      if (t.n_dims >= 2) bytes[dtype_name(t.type)] += t.n_bytes;
    }
    size_t best = 0;
    for (const auto& [n, b] : bytes)
      if (b > best) {
        best = b;
        i.quantization = n;
      }
    char p[32];
    if (params >= 1000000000) std::snprintf(p, sizeof p, "%.1fB", params / 1e9);
    else if (params >= 1000000) std::snprintf(p, sizeof p, "%.1fM", params / 1e6);
    else std::snprintf(p, sizeof p, "%.0fK", params / 1e3);
    i.parameter_size = p;
  }
  return i;
}

std::vector<LoadedModelInfo> Engine::loaded() const {
  std::vector<LoadedModelInfo> out;
  std::lock_guard<std::mutex> lock(impl_->mu);
  const auto now = Clock::now();
  for (const auto& m : impl_->models) {
    if (m->active == 0 && !m->forever && now >= m->expires) continue;  // being unloaded
    out.push_back({m->name, m->bytes, m->forever ? "forever" : rfc3339(m->expires_wall), m->active});
  }
  return out;
}

Result<nlohmann::ordered_json> Engine::show(const std::string& raw) const {
  HEARTH_ASSIGN_OR_RETURN(ModelFileInfo info, find_model(raw));
  HEARTH_ASSIGN_OR_RETURN(gguf::File f, gguf::File::open(info.path));
  nlohmann::ordered_json mi = nlohmann::ordered_json::object();
  for (const auto& [k, v] : f.metadata()) {
    if (k.rfind("tokenizer.ggml.", 0) == 0 && v.type == gguf::ValueType::kArray) continue;  // huge arrays
    switch (v.type) {
      case gguf::ValueType::kString: mi[k] = v.s; break;
      case gguf::ValueType::kBool: mi[k] = v.u != 0; break;
      case gguf::ValueType::kFloat32: case gguf::ValueType::kFloat64: mi[k] = v.f; break;
      case gguf::ValueType::kArray: break;
      default:
        if (auto i = v.as_int()) mi[k] = *i;
    }
  }
  nlohmann::ordered_json out;
  auto res = impl_->resolve(raw);
  if (res.ok() && res->manifest) {
    const store::Modelfile& mf = res->manifest->modelfile;
    out["modelfile"] = mf.to_text();
    std::string params;
    for (const auto& [k, v] : mf.parameters.items()) {
      if (v.is_array())
        for (const auto& x : v) params += k + " " + x.dump() + "\n";
      else
        params += k + " " + v.dump() + "\n";
    }
    out["parameters"] = params;
    out["template"] = mf.has_template ? mf.template_text : f.get_string_or("tokenizer.chat_template", "");
    out["system"] = mf.system;
    out["license"] = mf.licenses.empty() ? "" : mf.licenses[0];
    nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
    for (const auto& [r, c] : mf.messages) msgs.push_back({{"role", r}, {"content", c}});
    out["messages"] = msgs;
  } else {
    out["modelfile"] = "FROM " + info.path + "\n";
    out["parameters"] = "";
    out["template"] = f.get_string_or("tokenizer.chat_template", "");
  }
  out["details"] = {{"parent_model", ""}, {"format", "gguf"}, {"family", info.architecture},
                    {"families", {info.architecture}}, {"parameter_size", info.parameter_size},
                    {"quantization_level", info.quantization}};
  out["model_info"] = mi;
  out["modified_at"] = info.modified_at;
  return out;
}

nlohmann::ordered_json Engine::model_parameters(const std::string& name) const {
  auto res = impl_->resolve(name);
  if (res.ok() && res->manifest) return res->manifest->modelfile.parameters;
  return nlohmann::ordered_json::object();
}

store::Store* Engine::model_store() { return impl_->store.get(); }

void Engine::unload(const std::string& name) {
  auto res = impl_->resolve(name);
  if (!res.ok()) return;
  {
    // Expired now; the scheduler thread unloads it (evict_expired), where no
    // forward pass can be reading its weights. loaded() no longer lists it.
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (auto& m : impl_->models)
      if (m->name == res->key && m->active == 0) {
        m->forever = false;
        m->expires = Clock::time_point::min();
        m->expires_wall = std::chrono::system_clock::now();
      }
  }
  impl_->cv.notify_one();
}

}  // namespace hearth::runtime
