#include "runtime/prompt_cache.h"

#include <algorithm>

namespace hearth::runtime {

PromptCache::Hit PromptCache::take(const std::shared_ptr<const void>& owner, int64_t n_ctx, tensor::KvType type,
                                   std::span<const int32_t> prompt) {
  size_t best = entries_.size(), best_len = 0;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    if (e.owner.lock() != owner || e.kv->n_ctx != n_ctx || e.kv->type() != type) continue;
    const size_t n = std::min(e.tokens.size(), prompt.size());
    size_t len = 0;
    while (len < n && e.tokens[len] == prompt[len]) ++len;
    if (len == 0) continue;
    if (len > best_len || (len == best_len && e.stored > entries_[best].stored)) {
      best = i;
      best_len = len;
    }
  }
  if (best == entries_.size()) return {};
  Hit hit{std::move(entries_[best].kv), std::min(best_len, prompt.size() - 1)};
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(best));
  hit.kv->n_past = static_cast<int64_t>(hit.reuse);
  return hit;
}

std::vector<std::unique_ptr<model::KvCache>> PromptCache::put(const std::shared_ptr<const void>& owner,
                                                              std::unique_ptr<model::KvCache> kv,
                                                              std::vector<int32_t> tokens) {
  std::vector<std::unique_ptr<model::KvCache>> out;
  if (max_entries_ == 0 || tokens.empty() || !owner || static_cast<int64_t>(tokens.size()) > kv->n_past) {
    out.push_back(std::move(kv));
    return out;
  }
  while (entries_.size() >= max_entries_) out.push_back(evict_oldest());
  entries_.push_back({owner, std::move(kv), std::move(tokens), ++clock_});
  return out;
}

std::unique_ptr<model::KvCache> PromptCache::evict_oldest() {
  if (entries_.empty()) return nullptr;
  auto it = std::min_element(entries_.begin(), entries_.end(),
                             [](const Entry& a, const Entry& b) { return a.stored < b.stored; });
  auto kv = std::move(it->kv);
  entries_.erase(it);
  return kv;
}

std::vector<std::unique_ptr<model::KvCache>> PromptCache::drop_stale() {
  std::vector<std::unique_ptr<model::KvCache>> out;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->owner.expired()) {
      out.push_back(std::move(it->kv));
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

size_t PromptCache::bytes() const {
  size_t b = 0;
  for (const Entry& e : entries_) b += e.kv->bytes();
  return b;
}

}  // namespace hearth::runtime
