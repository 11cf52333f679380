// Prompt caching: the KV caches of finished sequences, kept so that a later
// request whose prompt starts with the same tokens (the next turn of a chat,
// which re-sends the conversation; a fixed system prompt) skips evaluating
// that prefix — what Ollama's runner and llama.cpp's server (cache_prompt)
// do with their slots. Used by the engine's scheduler thread only.
//
// An entry is a KV cache and the tokens whose keys and values it holds
// (positions 0..tokens.size()-1). take() hands out the entry of the same
// model, context size and cache type sharing the longest prefix with a new
// prompt; the caller evaluates the prompt from that position on (the
// positions past it are overwritten before anything attends to them). The
// model is held weakly: an entry of a model since unloaded never matches and
// is dropped by drop_stale().
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "model/model.h"
#include "tensor/kv_layout.h"

namespace hearth::runtime {

class PromptCache {
 public:
  // At most max_entries caches are kept (0: none).
  explicit PromptCache(size_t max_entries) : max_entries_(max_entries) {}

  struct Hit {
    std::unique_ptr<model::KvCache> kv;  // null: no entry shares a prefix
    size_t reuse = 0;  // positions of kv valid for the prompt (< prompt.size(): its last token is evaluated)
  };
  // The entry for `owner` (same n_ctx and type) sharing the longest prefix
  // with prompt (at least one token), removed from the cache; ties go to the
  // most recently stored.
  Hit take(const std::shared_ptr<const void>& owner, int64_t n_ctx, tensor::KvType type,
           std::span<const int32_t> prompt);

  // Keeps kv, holding `tokens`' keys and values, for owner. Returns the
  // caches evicted to stay within max_entries (least recently stored first),
  // kv itself when nothing is kept (max_entries 0, no tokens), for the
  // caller's accounting.
  std::vector<std::unique_ptr<model::KvCache>> put(const std::shared_ptr<const void>& owner,
                                                   std::unique_ptr<model::KvCache> kv, std::vector<int32_t> tokens);

  // Removes and returns the least recently stored entry's cache (null when
  // empty): memory for a request that needs it.
  std::unique_ptr<model::KvCache> evict_oldest();
  // Removes the entries whose model is gone; returns their caches.
  std::vector<std::unique_ptr<model::KvCache>> drop_stale();

  size_t size() const { return entries_.size(); }
  size_t bytes() const;

 private:
  struct Entry {
    std::weak_ptr<const void> owner;
    std::unique_ptr<model::KvCache> kv;
    std::vector<int32_t> tokens;
    uint64_t stored = 0;  // put() order
  };
  size_t max_entries_;
  uint64_t clock_ = 0;
  std::vector<Entry> entries_;
};

}  // namespace hearth::runtime
