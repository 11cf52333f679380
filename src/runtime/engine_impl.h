// The engine's inside, shared by the files that implement it (internal to
// src/runtime; nothing outside includes this):
//   engine.cpp            admission, the scheduler step and loop, sampling
//   engine_prompt.cpp     a request's prompt: Modelfile TEMPLATE / chat template / raw
//   engine_embedding.cpp  embedding requests, one input per scheduler step
//   engine_models.cpp     finding, loading and unloading models; the model API
//
// Threads: `loop()` and everything it calls run on the scheduler thread,
// which alone changes `running`, sequences and the KV caches. `mu` guards
// `waiting`, `stop`, the `models` list and each LoadedModel's use count and
// expiry (read by Engine::loaded and Engine::unload on HTTP threads).
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "model/model.h"
#include "runtime/engine.h"
#include "runtime/prompt_cache.h"
#include "runtime/sequence.h"

namespace hearth::runtime {

int64_t ns_between(Clock::time_point a, Clock::time_point b);
double seconds_between(Clock::time_point a, Clock::time_point b);
std::string rfc3339(std::chrono::system_clock::time_point t);

struct Engine::Impl {
  Engine& e;
  EngineConfig cfg;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::unique_ptr<Sequence>> waiting;
  std::vector<std::unique_ptr<Sequence>> running;    // scheduler thread only
  std::vector<std::shared_ptr<LoadedModel>> models;  // guarded by mu for readers
  size_t kv_used = 0;  // KV caches of running sequences and of the prompt cache
  PromptCache prompt_cache;
  bool stop = false;
  model::Workspace ws;
  std::unique_ptr<store::Store> store;
  std::thread thread;

  Impl(Engine& eng, EngineConfig c);
  ~Impl();

  // engine_models.cpp
  struct Resolved {
    std::string key;   // the name models are loaded and reported under
    std::string path;  // the GGUF
    std::optional<store::Manifest> manifest;
    std::string modified_at;
  };
  std::string path_for(const std::string& name) const { return cfg.models_dir + "/" + name + ".gguf"; }
  Result<Resolved> resolve(const std::string& raw) const;
  Result<std::shared_ptr<LoadedModel>> acquire(const std::string& raw);
  std::shared_ptr<LoadedModel> register_model(std::shared_ptr<LoadedModel> lm, const std::string& name,
                                              const std::string& path, std::shared_ptr<const tokenizer::Tokenizer> tok,
                                              std::shared_ptr<const chat::jinja::Template> tmpl, bool own, size_t bytes,
                                              Clock::time_point t0);
  void evict_expired();
  // A sequence starts or stops using its model (under mu: loaded() reads it).
  void hold_model(Sequence& s);
  void drop_model(Sequence& s);

  // engine_prompt.cpp
  Result<std::vector<int32_t>> tokenize_prompt(Sequence& s);

  // engine_embedding.cpp
  bool prepare_embedding(Sequence& s);
  void embed_step(Sequence& s);
  void finish_embedding(Sequence& s);

  // engine.cpp
  void fail(Sequence& s, Status st);
  bool admit(Sequence& s);
  void finish(Sequence& s, sampling::FinishReason why);
  void release(Sequence& s);
  bool on_logits(Sequence& s, std::span<const float> row);
  void step();
  void loop();
};

}  // namespace hearth::runtime
