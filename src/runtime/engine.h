// The serving engine: one scheduler thread owns the loaded models and every
// sequence's KV cache; HTTP threads submit requests and read events back.
//
// Continuous batching: each scheduler step runs one forward pass per model
// over all its active sequences together — a decode token for each running
// request plus chunks of the prompts of newly admitted ones. Each request gets
// the context it asks for from a shared KV budget. Models load on first use
// from the models directory and stay loaded for keep_alive.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tensor/kv_layout.h"
#include "runtime/metrics.h"
#include "store/store.h"
#include "runtime/request.h"

namespace hearth::runtime {

struct EngineConfig {
  std::string models_dir;
  std::string store_home;               // the model store (Modelfile models); empty: none
  int threads = 0;                      // <= 0: physical cores
  size_t max_waiting = 64;              // beyond this, submit() answers kUnavailable (503)
  size_t max_running = 16;              // sequences decoding at once
  size_t kv_budget_bytes = size_t(4) << 30;
  int64_t default_num_ctx = 2048;       // capped by the model's training context
  // Every sequence's KV cache type (`hearth serve --kv-cache-type`, like
  // OLLAMA_KV_CACHE_TYPE); a model whose heads do not fit Q8_0's blocks gets
  // F16 (tensor::kv_type_fits).
  tensor::KvType kv_type = tensor::KvType::kF16;
  // Tokens per forward pass: every running sequence's next token, then prompt
  // chunks. 64 keeps each pass compute-bound (pp64 ≈ pp128 per token on 2
  // cores) while a burst of prompts gets first tokens in turn: 8 streams' p50
  // time to first token 0.32-0.40 s vs 0.42-0.56 with 512, throughput the same,
  // and a 1211-token prompt 4.8-4.9 s vs 5.1-5.3 (docs/benchmarks.md).
  int64_t max_batch_tokens = 64;
  // Finished sequences' KV caches kept for prompt caching (runtime/
  // prompt_cache.h): a request whose prompt starts with one's tokens skips
  // evaluating them. They count against kv_budget_bytes and make room for
  // new requests (least recently stored first). 0 turns prompt caching off.
  size_t prompt_cache_entries = 8;
  double default_keep_alive_s = 300;
  // Loaded model files may use this much memory together; beyond it, the
  // least recently used idle models are unloaded (0: 3/4 of physical RAM).
  size_t model_memory_budget = 0;
};

struct ModelFileInfo {
  std::string name, path;
  size_t size = 0;
  std::string modified_at;  // RFC 3339
  std::string digest;       // sha256 of the file? (cheap stand-in: size+mtime)
  std::string architecture, quantization, parameter_size;
};

struct LoadedModelInfo {
  std::string name;
  size_t size = 0;
  std::string expires_at;
  int active = 0;
};

class Engine {
 public:
  explicit Engine(EngineConfig config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request. kUnavailable when the queue is full or the engine is
  // draining; kNotFound for an unknown model. Errors found later (bad prompt,
  // context too small) arrive as a kError event.
  Result<std::shared_ptr<RequestStream>> submit(GenerateRequest request);

  std::vector<ModelFileInfo> list_models() const;
  Result<ModelFileInfo> find_model(const std::string& name) const;
  std::vector<LoadedModelInfo> loaded() const;
  // Model metadata for /api/show (from the file, without loading it).
  Result<nlohmann::ordered_json> show(const std::string& name) const;
  // The Modelfile PARAMETERs of a store model (an empty object otherwise):
  // adapters apply them under the request's own options.
  nlohmann::ordered_json model_parameters(const std::string& name) const;
  // The store, when configured (create / copy / delete routes).
  store::Store* model_store();

  // Unloads a model now if no request is using it (Ollama keep_alive 0 with an empty prompt).
  void unload(const std::string& name);
  void drain() { draining_ = true; }  // stop accepting; running requests finish
  bool draining() const { return draining_; }
  bool loading() const { return loading_.load() > 0; }  // a model load is in progress
  size_t in_flight() const { return in_flight_.load(); }
  Metrics& metrics() { return metrics_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> draining_{false};
  std::atomic<size_t> in_flight_{0};
  std::atomic<int> loading_{0};
  Metrics metrics_;
  friend struct Impl;
};

// "name", "name:latest" -> "name"; rejects anything that could leave the
// models directory.
Result<std::string> normalize_model_name(const std::string& name);

}  // namespace hearth::runtime
