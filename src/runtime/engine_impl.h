// The engine's inside, shared by the files that implement it (internal to
// src/runtime; nothing outside includes this):
//   engine.cpp            admission, the scheduler step and loop, sampling
//   engine_prompt.cpp     a request's prompt: Modelfile TEMPLATE / chat template / raw
//   engine_embedding.cpp  embedding requests, one input per scheduler step
//   engine_models.cpp     finding, loading and unloading models; the model API
//
// Threads: `loop()` and everything it calls run on the scheduler thread,
// which alone changes `running`, `parked`, the KV caches and the sequences
// it holds; `load_loop()` runs on the loader thread; `prepare_loop()`
// renders and tokenizes prompts on the preparer thread, which owns a
// sequence from `to_prepare` until it puts it in `prepared`. `mu` guards
// `waiting`, `stop`, the load jobs, both preparation queues, the `models`
// list and each LoadedModel's use count and expiry (read by Engine::loaded
// and Engine::unload on HTTP threads).
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
// About how many bytes of text a request brings to render and tokenize.
size_t request_text_bytes(const GenerateRequest& r);
double seconds_between(Clock::time_point a, Clock::time_point b);

struct Engine::Impl {
  struct LoadJob;
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
  std::vector<std::shared_ptr<LoadJob>> loads;        // guarded by mu
  size_t loads_finished = 0;                          // guarded by mu: results not yet collected
  bool stop_loader = false;                           // guarded by mu
  std::condition_variable loader_cv;
  std::vector<std::unique_ptr<Sequence>> parked;      // scheduler thread only: waiting for a load
  size_t n_parked = 0;  // guarded by mu: parked.size(), counted with `waiting` against max_waiting
  void count_parked() {
    std::lock_guard<std::mutex> lock(mu);
    n_parked = parked.size();
  }
  // Prompts are rendered and tokenized on their own thread: a 16 MiB prompt
  // takes seconds, which on the scheduler thread stalled every running
  // stream. Admission hands a sequence over (kPreparing) once its model is
  // loaded and takes it back, at the front of the queue, when it is ready.
  std::deque<std::unique_ptr<Sequence>> to_prepare;  // guarded by mu
  std::vector<std::unique_ptr<Sequence>> prepared;   // guarded by mu
  size_t n_preparing = 0;  // guarded by mu: handed over and not yet taken back
  bool stop_preparer = false;                        // guarded by mu
  std::condition_variable prepare_cv;
  std::thread thread, loader, preparer;

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
  // The loaded model for `res`, unless its file changed since it was loaded
  // (then it is marked stale: unloaded once idle) or none is.
  std::shared_ptr<LoadedModel> find_loaded(const Resolved& res);
  void mark_stale(LoadedModel& m);
  // Models load on the loader thread, one at a time in request order, so
  // that the running sequences go on decoding while a model loads; the
  // requests for it wait in `parked` meanwhile. The scheduler thread adds a
  // loaded model to `models` (collect_loads → register_model) and puts its
  // requests back at the front of the queue, or fails them with the load's
  // error.
  struct LoadJob {
    Resolved res;
    bool started = false;
    std::optional<Result<std::shared_ptr<LoadedModel>>> result;  // set when finished
  };
  Result<std::shared_ptr<LoadedModel>> load(const Resolved& res);
  void request_load(Resolved res);
  void load_loop();
  void collect_loads();
  void register_model(std::shared_ptr<LoadedModel> lm);
  void evict_expired();
  // A sequence starts or stops using its model (under mu: loaded() reads it).
  void hold_model(Sequence& s);
  void drop_model(Sequence& s);
  // The request's keep_alive takes effect before its last event goes out, so
  // a client that reads /api/ps after it sees the expiry it asked for
  // (drop_model sets it again when the sequence is released).
  void settle_keep_alive(Sequence& s);

  // engine_prompt.cpp
  Result<std::vector<int32_t>> tokenize_prompt(Sequence& s);
  // The prompt or the inputs as tokens: on the scheduler thread for
  // requests of up to kInlinePrepareBytes of text (a few milliseconds),
  // else on the preparer thread, so that a small request never waits
  // behind a large one's tokenization either.
  static constexpr size_t kInlinePrepareBytes = 16 << 10;
  void prepare(Sequence& s);
  void prepare_loop();
  void constrain_json(Sequence& s, std::string_view answer_so_far);
  void split_reply(Sequence& s, std::string text, Event& ev, bool end);

  // engine_embedding.cpp
  void tokenize_embedding(Sequence& s);  // preparer thread
  bool prepare_embedding(Sequence& s);
  void embed_step(Sequence& s);
  void finish_embedding(Sequence& s);

  // engine.cpp
  void fail(Sequence& s, Status st);
  void push_done(Sequence& s, Event ev);  // the last event of a request that succeeded
  // Admitted or finished; wait for KV memory; wait for its model; wait for its prompt's tokens.
  enum class Admission { kDone, kNoMemory, kParked, kPreparing };
  Admission admit(Sequence& s);
  void finish(Sequence& s, sampling::FinishReason why);
  void release(Sequence& s);
  bool on_logits(Sequence& s, std::span<const float> row);
  void step();
  void loop();
};

}  // namespace hearth::runtime
