// Decoder models loaded from GGUF, and the evaluation context that holds a
// sequence's KV cache.
//
// A Model is immutable after loading and may be shared by many Contexts; a
// Context is used by one thread at a time (it owns its thread pool).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "gguf/file.h"
#include "hearth/status.h"
#include "model/matmul.h"
#include "model/weight.h"

namespace hearth::model {

enum class RopeType { kNorm, kNeox };  // adjacent pairs / the two halves of a head

struct HParams {
  std::string arch;
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;
  int64_t n_ff = 0;
  int64_t n_rot = 0;
  float rms_eps = 1e-5f;
  float rope_base = 10000.f;
  RopeType rope = RopeType::kNorm;
};

struct LayerWeights {
  Weight attn_norm, wq, wk, wv, wo, bq, bk, bv;  // b* are 1-row "matrices" (absent when no bias)
  Weight ffn_norm, w_gate, w_up, w_down;
};

class Context;

class Model {
 public:
  // Loads the architecture named by `general.architecture` through the registry.
  static Result<std::shared_ptr<Model>> load(const std::string& path);
  static Result<std::shared_ptr<Model>> from_file(std::shared_ptr<gguf::File> file);

  const HParams& hparams() const { return hp_; }
  const gguf::File& file() const { return *file_; }

  // Runs tokens at positions ctx.n_past().. and appends them to its KV cache.
  // logits: [n, n_vocab] when all_logits, else [1, n_vocab] (the last token).
  Status forward(Context& ctx, std::span<const int32_t> tokens, bool all_logits, std::vector<float>* logits) const;

  // Architecture loaders fill these (see llama.cpp).
  HParams hp_;
  std::shared_ptr<gguf::File> file_;
  Weight tok_embd, output_norm, output;
  std::vector<LayerWeights> layers;
};

class Context {
 public:
  // n_ctx <= 0 uses the model's training context. n_threads <= 0: physical cores.
  Context(std::shared_ptr<const Model> model, int64_t n_ctx, int n_threads);

  // Evaluates `tokens` after what is already in the cache. Fails with
  // kOutOfRange when the context would overflow, kInvalidArgument for an id
  // outside the vocabulary; the cache is unchanged on failure.
  Status eval(std::span<const int32_t> tokens, bool all_logits, std::vector<float>* logits);
  void reset() { n_past_ = 0; }
  // Forgets everything after the first n tokens (reuse of a common prefix).
  void truncate(int64_t n) { n_past_ = std::clamp<int64_t>(n, 0, n_past_); }
  int64_t n_past() const { return n_past_; }
  int64_t n_ctx() const { return n_ctx_; }
  const Model& model() const { return *model_; }

 private:
  friend class Model;
  std::shared_ptr<const Model> model_;
  int64_t n_ctx_;
  int64_t n_past_ = 0;
  core::ThreadPool pool_;
  MatMul mm_;
  // KV cache, F16: per layer [n_ctx, n_head_kv * head_dim].
  std::vector<std::vector<uint16_t>> k_cache_, v_cache_;
  // Scratch, reused across calls.
  std::vector<float> x_, h_, q_, k_, v_, att_, ffa_, ffb_, scores_, rope_cs_;
};

}  // namespace hearth::model
