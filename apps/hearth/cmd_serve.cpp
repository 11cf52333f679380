// hearth serve [--host H] [--port P] [--models DIR] [--api-key K] [--threads N] ...
// OpenAI- and Ollama-compatible HTTP server. SIGTERM/SIGINT: stop accepting,
// report not-ready, let in-flight requests finish (grace period), exit 0.
// Settings also come from the environment, named as Ollama's (HEARTH_HOST,
// HEARTH_MODELS, HEARTH_KEEP_ALIVE, HEARTH_ORIGINS, HEARTH_CONTEXT_LENGTH,
// HEARTH_NUM_PARALLEL, HEARTH_MAX_QUEUE, HEARTH_KV_CACHE_TYPE, ...); a flag wins.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "commands.h"
#include "runtime/engine.h"
#include "server/api.h"
#include "server/fields.h"
#include "server/http.h"

namespace hearth::app {

void add_serve(CLI::App& app) {
  struct Opts {
    std::string host = "127.0.0.1", models, api_key, kv_type = "f16", keep_alive = "5m";
    int port = 11434, threads = 0, grace_s = 30;
    std::vector<std::string> cors;
    runtime::EngineConfig engine;
    double kv_budget_gib = 4;
    double model_mem_gib = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("serve", "Serve the OpenAI and Ollama APIs");
  auto* host = cmd->add_option("--host", o->host, "address to bind (default 127.0.0.1)");
  auto* port = cmd->add_option("--port", o->port, "port (default 11434)")->check(CLI::Range(0, 65535));
  cmd->add_option("--models", o->models, "directory of GGUF files served by file name (default $HEARTH_HOME/models); store models (hearth create) are served too")
      ->envname("HEARTH_MODELS");
  cmd->add_option("--api-key", o->api_key, "require this key as 'Authorization: Bearer KEY' (also HEARTH_API_KEY)");
  cmd->add_option("--threads,-t", o->threads, "threads for inference (default: physical cores)");
  cmd->add_option("--cors", o->cors, "allowed CORS origin (repeatable; '*' for any; HEARTH_ORIGINS: comma-separated)")
      ->envname("HEARTH_ORIGINS")
      ->delimiter(',');
  cmd->add_option("--max-queue", o->engine.max_waiting, "requests waiting beyond which the server answers 503")
      ->envname("HEARTH_MAX_QUEUE");
  cmd->add_option("--max-running", o->engine.max_running, "sequences decoding at once")->envname("HEARTH_NUM_PARALLEL");
  cmd->add_option("--keep-alive", o->keep_alive,
                  "how long an idle model stays loaded when a request does not say (default 5m; \"1h30m\", seconds, "
                  "-1: forever, 0: unload at once)")
      ->envname("HEARTH_KEEP_ALIVE");
  cmd->add_option("--batch-tokens", o->engine.max_batch_tokens,
                  "tokens per forward pass (decode tokens first, then prompt chunks; default 64)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--kv-budget-gib", o->kv_budget_gib, "memory for all KV caches together (GiB)");
  cmd->add_option("--prompt-cache", o->engine.prompt_cache_entries,
                  "finished requests' KV caches kept so that a prompt starting with the same tokens (a chat's "
                  "next turn) skips evaluating them (default 8; 0: off); they give way to new requests")
      ->check(CLI::Range(size_t{0}, size_t{1024}));
  cmd->add_option("--ctx", o->engine.default_num_ctx, "default context per request (num_ctx overrides)")
      ->envname("HEARTH_CONTEXT_LENGTH");
  auto* kv_type = cmd->add_option("--kv-cache-type", o->kv_type,
                                  "KV cache type: f16 (default) or q8_0, half the memory per token (also "
                                  "HEARTH_KV_CACHE_TYPE); models whose heads do not fit q8_0 blocks use f16")
                      ->check(CLI::IsMember({"f16", "q8_0"}));
  cmd->add_option("--grace", o->grace_s, "seconds to let in-flight requests finish on SIGTERM");
  cmd->add_option("--model-memory-gib", o->model_mem_gib,
                  "memory for loaded models together (GiB; default 3/4 of RAM); least recently used idle models are unloaded beyond it");
  cmd->callback([o, host, port, kv_type] {
    if (const char* hh = std::getenv("HEARTH_HOST"); hh && host->count() == 0 && port->count() == 0) {
      std::string v = hh;
      size_t colon = v.rfind(':');
      if (colon != std::string::npos) {
        o->host = v.substr(0, colon);
        o->port = std::atoi(v.c_str() + colon + 1);
      } else {
        o->host = v;
      }
    }
    if (o->api_key.empty())
      if (const char* k = std::getenv("HEARTH_API_KEY")) o->api_key = k;
    const std::string home = store::Store::default_home();
    if (o->models.empty()) o->models = home + "/models";
    o->engine.models_dir = o->models;
    o->engine.store_home = home;
    o->engine.threads = o->threads;
    const std::optional<double> keep = server::parse_duration(o->keep_alive);
    if (!keep)
      throw CLI::RuntimeError(fail(invalid_argument("--keep-alive / HEARTH_KEEP_ALIVE '" + o->keep_alive +
                                                    "' is not a duration (e.g. 5m, 1h30m, 300, -1)")));
    o->engine.default_keep_alive_s = *keep;
    if (const char* e = std::getenv("HEARTH_KV_CACHE_TYPE"); e && kv_type->count() == 0) o->kv_type = e;
    const std::optional<tensor::KvType> kv = tensor::parse_kv_type(o->kv_type);
    if (!kv)
      throw CLI::RuntimeError(fail(invalid_argument("HEARTH_KV_CACHE_TYPE='" + o->kv_type + "' is not one of f16, q8_0")));
    o->engine.kv_type = *kv;
    o->engine.kv_budget_bytes = static_cast<size_t>(o->kv_budget_gib * (1ull << 30));
    o->engine.model_memory_budget = static_cast<size_t>(o->model_mem_gib * (1ull << 30));
    // Signals are taken by sigwait below, in this thread only.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    runtime::Engine engine(o->engine);
    server::Api api(engine, {o->api_key, o->cors});
    server::HttpConfig hc;
    hc.host = o->host;
    hc.port = o->port;
    server::HttpServer http(hc, [&api](const server::HttpRequest& r, server::Responder& res) { api.handle(r, res); });
    http.set_uploads([&api](const server::HttpRequest& head) { return api.open_upload(head); });
    Status s = http.start();
    if (!s.ok()) throw CLI::RuntimeError(fail(s));
    std::fprintf(stderr, "hearth: listening on http://%s:%d (models: %s; KV cache: %s)\n", o->host.c_str(), http.port(),
                 o->models.c_str(), tensor::kv_type_name(o->engine.kv_type));
    int sig = 0;
    sigwait(&set, &sig);
    std::fprintf(stderr, "hearth: %s received, draining\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    engine.drain();
    http.stop_accepting();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o->grace_s);
    while ((engine.in_flight() > 0 || http.open_connections() > 0) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::fprintf(stderr, "hearth: stopped\n");
    std::fflush(stderr);
    std::_Exit(0);  // connection threads may still hold idle keep-alive sockets
  });
}

}  // namespace hearth::app
