// The engine's models: resolving a name (the store, then the models
// directory), loading on first use within the memory budget, keep_alive and
// unloading, and the model API (list, show, loaded, unload).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <new>

#include "chat/chat_template.h"
#include "runtime/engine_impl.h"
#include "runtime/model_show.h"

namespace hearth::runtime {

namespace {

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

// A store model first, then a file of the models directory.
Result<Engine::Impl::Resolved> Engine::Impl::resolve(const std::string& raw) const {
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
  std::error_code ec;
  const bool there = std::filesystem::exists(path, ec);  // (no throwing: a symlink loop is an answer too)
  if (ec) return not_found("model '" + raw + "' not found: " + path + ": " + ec.message());
  if (!there) return not_found("model '" + raw + "' not found");
  return Resolved{n.value(), path, std::nullopt, ""};
}

namespace {
std::optional<FileStamp> stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), static_cast<uint64_t>(st.st_size),
                   static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}
}  // namespace

std::shared_ptr<LoadedModel> Engine::Impl::find_loaded(const Resolved& res) {
  const std::optional<FileStamp> now = stamp_of(res.path);
  std::lock_guard<std::mutex> lock(mu);
  for (auto& m : models) {
    if (m->name != res.key || m->stale) continue;
    if (now && *now == m->stamp && m->path == res.path) return m;
    // Its file changed since it was loaded (or the name now means another
    // file): the running requests finish with it, new ones load the file again.
    m->stale = true;
  }
  return nullptr;
}

void Engine::Impl::mark_stale(LoadedModel& m) {
  std::lock_guard<std::mutex> lock(mu);
  m.stale = true;
}

// Reads a model from its GGUF (and the store's Modelfile layers): the slow
// part, on the loader thread. Not yet in `models`: register_model adds it.
Result<std::shared_ptr<LoadedModel>> Engine::Impl::load(const Resolved& res) {
  const auto t0 = Clock::now();
  HEARTH_ASSIGN_OR_RETURN(gguf::File gf, gguf::File::open(res.path));
  auto file = std::make_shared<gguf::File>(std::move(gf));
  auto lm = std::make_shared<LoadedModel>();
  lm->name = res.key;
  lm->path = res.path;
  // (Taken before the file is read: a change while it loads shows next time.)
  if (auto st = stamp_of(res.path)) lm->stamp = *st;
  lm->bytes = file->file_size();
  lm->manifest = res.manifest;
  HEARTH_ASSIGN_OR_RETURN(lm->tok, tokenizer::Tokenizer::load(*file));
  if (res.manifest && res.manifest->modelfile.has_template) {
    HEARTH_ASSIGN_OR_RETURN(lm->go_template, store::GoTemplate::parse(res.manifest->modelfile.template_text));
    lm->thinking_tags = chat::infer_thinking_tags(lm->go_template->source());
  }
  if (file->get_string_or("general.architecture", "") == "bert") {
    HEARTH_ASSIGN_OR_RETURN(lm->bert, model::BertModel::from_file(file));
  } else {
    HEARTH_ASSIGN_OR_RETURN(lm->model, model::Model::from_file(file));
    if (res.manifest)
      for (const auto& digest : res.manifest->adapter_digests) {  // Modelfile ADAPTERs
        HEARTH_ASSIGN_OR_RETURN(gguf::File af, gguf::File::open(store->blob_path(digest)));
        HEARTH_RETURN_IF_ERROR(lm->model->apply_lora(std::make_shared<gguf::File>(std::move(af))));
      }
    std::string src = file->get_string_or("tokenizer.chat_template", "");
    lm->has_own_template = !src.empty();
    if (src.empty()) src = chat::builtin_template_source("chatml").value();
    auto tmpl = chat::jinja::Template::parse(src);
    if (!tmpl.ok()) {  // a broken template: chatml (reported by `show`, which parses it again)
      lm->has_own_template = false;
      tmpl = chat::jinja::Template::parse(chat::builtin_template_source("chatml").value());
    }
    lm->tmpl = tmpl.value();
    if (lm->has_own_template && !lm->go_template) lm->thinking_tags = chat::infer_thinking_tags(src);
  }
  lm->load_ns = ns_between(t0, Clock::now());
  return lm;
}

void Engine::Impl::request_load(Resolved res) {
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& job : loads)
      if (job->res.key == res.key) return;  // queued, loading, or loaded and not yet collected
    auto job = std::make_shared<LoadJob>();
    job->res = std::move(res);
    loads.push_back(std::move(job));
  }
  loader_cv.notify_one();
}

void Engine::Impl::load_loop() {
  for (;;) {
    std::shared_ptr<LoadJob> job;
    {
      std::unique_lock<std::mutex> lock(mu);
      auto next = [&] {
        for (auto& j : loads)
          if (!j->started) return j;
        return std::shared_ptr<LoadJob>();
      };
      loader_cv.wait(lock, [&] { return stop_loader || next() != nullptr; });
      job = next();
      if (!job) return;  // stopping, nothing queued
      job->started = true;
      if (stop) {  // shutting down: the waiting requests fail instead of waiting for loads
        job->result = unavailable("the server is shutting down");
        ++loads_finished;
        cv.notify_one();
        continue;
      }
    }
    Result<std::shared_ptr<LoadedModel>> r = [&]() -> Result<std::shared_ptr<LoadedModel>> {
      struct Loading {
        std::atomic<int>& n;
        explicit Loading(std::atomic<int>& c) : n(c) { ++n; }
        ~Loading() { --n; }
      } loading(e.loading_);
      try {
        return load(job->res);
      } catch (const std::bad_alloc&) {  // the requests fail; the server goes on
        return unavailable("not enough memory to load model '" + job->res.key + "'");
      } catch (const std::exception& ex) {
        return Status(StatusCode::kInternal, "loading model '" + job->res.key + "' failed: " + ex.what());
      }
    }();
    {
      std::lock_guard<std::mutex> lock(mu);
      job->result = std::move(r);
      ++loads_finished;
    }
    cv.notify_one();
  }
}

void Engine::Impl::collect_loads() {
  std::vector<std::shared_ptr<LoadJob>> done;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (loads_finished == 0) return;
    for (auto it = loads.begin(); it != loads.end();) {
      if ((*it)->result) {
        done.push_back(std::move(*it));
        it = loads.erase(it);
      } else {
        ++it;
      }
    }
    loads_finished = 0;
  }
  for (auto& job : done) {
    const Result<std::shared_ptr<LoadedModel>>& r = *job->result;
    if (r.ok()) register_model(r.value());
    // Its requests go back to the front of the queue, in their order; or fail.
    std::vector<std::unique_ptr<Sequence>> back;
    for (auto it = parked.begin(); it != parked.end();) {
      if ((*it)->load_key != job->res.key) {
        ++it;
        continue;
      }
      if (r.ok()) {
        // It keeps the model, even if an unload or the memory budget takes
        // it out of `models` before it is admitted.
        (*it)->lm = r.value();
        (*it)->load_ns = r.value()->load_ns;  // (it waited for this load: its load_duration)
        back.push_back(std::move(*it));
      } else {
        fail(**it, r.status());
        release(**it);
      }
      it = parked.erase(it);
    }
    std::lock_guard<std::mutex> lock(mu);
    waiting.insert(waiting.begin(), std::make_move_iterator(back.begin()), std::make_move_iterator(back.end()));
    n_parked = parked.size();
  }
}

namespace {
// Used now; loaded for keep_alive_s more (negative: until unloaded).
void keep_alive(LoadedModel& m, double keep_alive_s) {
  const auto keep = std::chrono::milliseconds(static_cast<int64_t>(std::max(0.0, keep_alive_s) * 1000));
  m.last_used = Clock::now();
  m.forever = keep_alive_s < 0;
  m.expires = m.last_used + keep;
  m.expires_wall = std::chrono::system_clock::now() + keep;
}
}  // namespace

void Engine::Impl::register_model(std::shared_ptr<LoadedModel> lm) {
  keep_alive(*lm, cfg.default_keep_alive_s);  // until a request using it sets its own
  std::lock_guard<std::mutex> lock(mu);
  // Least recently used idle models make room within the memory budget.
  size_t budget = cfg.model_memory_budget;
  if (budget == 0) budget = static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<size_t>(sysconf(_SC_PAGE_SIZE)) / 4 * 3;
  auto used = [&] {
    size_t u = 0;
    for (const auto& m : models) u += m->bytes;
    return u;
  };
  while (!models.empty() && used() + lm->bytes > budget) {
    auto victim = std::min_element(models.begin(), models.end(), [](const auto& a, const auto& b) {
      return (a->active == 0 ? a->last_used : Clock::time_point::max()) <
             (b->active == 0 ? b->last_used : Clock::time_point::max());
    });
    if ((*victim)->active != 0) break;  // everything is busy: load anyway
    ws.pool.stop_warming();  // the pool may be reading its weights (ThreadPool::warm_after_next_job)
    models.erase(victim);
  }
  models.push_back(std::move(lm));
}

// Unloads the idle models past their keep_alive (Engine::unload expires
// them at once). On the scheduler thread only: the pool stops reading
// ahead into their weights first.
void Engine::Impl::evict_expired() {
  std::lock_guard<std::mutex> lock(mu);
  auto now = Clock::now();
  auto expired = [&](const auto& m) { return m->active == 0 && (m->stale || (!m->forever && now >= m->expires)); };
  if (std::none_of(models.begin(), models.end(), expired)) return;
  ws.pool.stop_warming();
  models.erase(std::remove_if(models.begin(), models.end(), expired), models.end());
}

void Engine::Impl::hold_model(Sequence& s) {
  if (s.counted) return;  // (held from before its prompt was prepared)
  std::lock_guard<std::mutex> lock(mu);
  s.lm->active++;
  s.counted = true;
}

// Back to idle: it stays loaded for the request's keep_alive (the server's
// default when the request gives none; negative: until unloaded).
void Engine::Impl::settle_keep_alive(Sequence& s) {
  if (!s.lm) return;
  std::lock_guard<std::mutex> lock(mu);
  keep_alive(*s.lm, s.req.keep_alive_s.value_or(cfg.default_keep_alive_s));
}

void Engine::Impl::drop_model(Sequence& s) {
  if (!s.lm || !s.counted) return;
  std::lock_guard<std::mutex> lock(mu);
  --s.lm->active;
  s.counted = false;
  keep_alive(*s.lm, s.req.keep_alive_s.value_or(cfg.default_keep_alive_s));
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
    std::error_code kind;
    if (entry.path().extension() != ".gguf" || !entry.is_regular_file(kind)) continue;  // (directories, FIFOs, broken links)
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
    const ModelFacts facts = model_facts(f.value());
    i.architecture = facts.architecture;
    i.quantization = facts.quantization;
    i.parameter_size = facts.parameter_size;
  }
  return i;
}

std::vector<LoadedModelInfo> Engine::loaded() const {
  std::vector<LoadedModelInfo> out;
  std::lock_guard<std::mutex> lock(impl_->mu);
  const auto now = Clock::now();
  for (const auto& m : impl_->models) {
    if (m->active == 0 && (m->stale || (!m->forever && now >= m->expires))) continue;  // being unloaded
    out.push_back({m->name, m->bytes, m->forever ? "forever" : rfc3339(m->expires_wall), m->active});
  }
  return out;
}

Result<nlohmann::ordered_json> Engine::show(const std::string& raw) const {
  HEARTH_ASSIGN_OR_RETURN(ModelFileInfo info, find_model(raw));
  HEARTH_ASSIGN_OR_RETURN(gguf::File f, gguf::File::open(info.path));
  auto res = impl_->resolve(raw);
  return show_model(f, info.path, res.ok() && res->manifest ? &*res->manifest : nullptr, info.modified_at);
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
