// Work distribution for one parallel section: [0, n) is split into one
// contiguous range per thread; each thread takes pieces from the front of its
// own range (a shrinking share of what is left, so a range costs a handful of
// atomic operations on a cache line no other thread touches), and when its
// range is empty it steals the back half of the fullest other range. Each
// thread thus streams one contiguous region (prefetching into its own next
// piece), and one that is slowed (memory contention, a late wake-up) is
// relieved at the end instead of being waited for.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace hearth::core {

class WorkRanges {
 public:
  // Splits [0, n) over n_threads ranges. Allocates only when n_threads grows.
  // Not concurrent with next().
  void reset(size_t n, int n_threads);
  // The next piece [*begin, *end) for thread t (0 <= t < n_threads); false
  // when every index has been handed out. Every index is handed out once.
  bool next(int t, size_t* begin, size_t* end);

 private:
  // begin in the low 32 bits, end in the high 32 bits: the owner's take and a
  // thief's steal are both one compare-exchange of the same word.
  struct alignas(64) Slot {
    std::atomic<uint64_t> v{0};
  };
  std::unique_ptr<Slot[]> slots_;
  int capacity_ = 0;
  int n_threads_ = 0;
};

}  // namespace hearth::core
