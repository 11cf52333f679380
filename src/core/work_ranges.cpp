#include "core/work_ranges.h"

#include <algorithm>
#include <stdexcept>

namespace hearth::core {

namespace {

constexpr uint64_t pack(uint64_t begin, uint64_t end) { return begin | (end << 32); }
constexpr uint32_t begin_of(uint64_t v) { return static_cast<uint32_t>(v); }
constexpr uint32_t end_of(uint64_t v) { return static_cast<uint32_t>(v >> 32); }

}  // namespace

void WorkRanges::reset(size_t n, int n_threads) {
  if (n >= (uint64_t{1} << 32)) throw std::length_error("WorkRanges: more than 2^32 - 1 items");
  n_threads = std::max(1, n_threads);
  if (n_threads > capacity_) {
    slots_ = std::make_unique<Slot[]>(static_cast<size_t>(n_threads));
    capacity_ = n_threads;
  }
  n_threads_ = n_threads;
  for (int t = 0; t < n_threads; ++t)
    slots_[t].v.store(pack(n * t / n_threads, n * (t + 1) / n_threads), std::memory_order_relaxed);
}

bool WorkRanges::next(int t, size_t* begin, size_t* end) {
  Slot& mine = slots_[t];
  for (;;) {
    uint64_t cur = mine.v.load(std::memory_order_relaxed);
    const uint32_t b = begin_of(cur), e = end_of(cur);
    if (b < e) {
      const uint32_t take = std::max<uint32_t>(1, (e - b) / 4);
      if (mine.v.compare_exchange_weak(cur, pack(b + take, e), std::memory_order_relaxed)) {
        *begin = b;
        *end = b + take;
        return true;
      }
      continue;
    }
    // Own range empty: steal the back half of the fullest other one. Only
    // this thread writes an empty slot of its own (thieves skip empty ones),
    // so the stolen range can be stored plainly.
    int victim = -1;
    uint32_t most = 0;
    for (int u = 0; u < n_threads_; ++u) {
      if (u == t) continue;
      const uint64_t v = slots_[u].v.load(std::memory_order_relaxed);
      if (begin_of(v) < end_of(v) && end_of(v) - begin_of(v) > most) {
        most = end_of(v) - begin_of(v);
        victim = u;
      }
    }
    if (victim < 0) return false;
    uint64_t v = slots_[victim].v.load(std::memory_order_relaxed);
    const uint32_t vb = begin_of(v), ve = end_of(v);
    if (vb >= ve) continue;
    const uint32_t k = (ve - vb + 1) / 2;
    if (!slots_[victim].v.compare_exchange_weak(v, pack(vb, ve - k), std::memory_order_relaxed)) continue;
    mine.v.store(pack(ve - k, ve), std::memory_order_relaxed);
  }
}

}  // namespace hearth::core
