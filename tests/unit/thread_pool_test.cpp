#include <gtest/gtest.h>
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "core/work_ranges.h"

namespace hearth::core {
namespace {

TEST(ThreadPool, CoversEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 7}) {
    ThreadPool pool(threads);
    for (size_t n : {0ul, 1ul, 5ul, 64ul, 1001ul}) {
      for (size_t grain : {1ul, 4ul, 16ul}) {
        std::vector<std::atomic<int>> hits(n);
        pool.parallel_for(n, [&](size_t b, size_t e, int tid) {
          EXPECT_LT(tid, threads);
          for (size_t i = b; i < e; ++i) hits[i]++;
        }, grain);
        for (size_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
      }
    }
  }
}

TEST(ThreadPool, ManyRoundsInARow) {
  ThreadPool pool(2);
  std::atomic<long> sum{0};
  for (int r = 0; r < 2000; ++r)
    pool.parallel_for(10, [&](size_t b, size_t e, int) { sum += static_cast<long>(e - b); });
  EXPECT_EQ(sum.load(), 20000);
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Workers that were busy (jobs a few µs apart, as in a generation loop) keep
// spinning only for a bounded while once the jobs stop: over 300 ms of
// idleness the process uses a small fraction of one core (a spinning worker
// would use all of it).
TEST(ThreadPool, IdlePoolBlocks) {
  ThreadPool pool(3);
  std::atomic<long> sum{0};
  for (int r = 0; r < 500; ++r)
    pool.parallel_for(6, [&](size_t b, size_t e, int) { sum += static_cast<long>(e - b); });
  EXPECT_EQ(sum.load(), 3000);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // past any spin budget
  const double cpu0 = process_cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_LT(process_cpu_seconds() - cpu0, 0.05) << "idle workers kept a core busy";
}

// Jobs with warm-ups requested (warm_after_next_job) still cover every index
// once; requests for the caller or for threads that do not exist are ignored;
// a request survives jobs run on the caller alone; and once the jobs stop, the
// warm-ups end and the pool blocks.
TEST(ThreadPool, WarmUpsEndAndThePoolStillBlocks) {
  ThreadPool pool(3);
  std::vector<uint8_t> region(size_t{64} << 20, 1);
  const std::span<const uint8_t> all(region), back = all.subspan(region.size() / 2);
  std::atomic<long> sum{0};
  for (int r = 0; r < 300; ++r) {
    pool.warm_after_next_job(1, all);
    pool.warm_after_next_job(2, back);
    pool.warm_after_next_job(0, all);   // the caller: ignored
    pool.warm_after_next_job(3, all);   // no such worker: ignored
    pool.warm_after_next_job(-1, all);  // ignored
    pool.parallel_for(1, [&](size_t b, size_t e, int) { sum += static_cast<long>(e - b); });  // inline
    std::vector<std::atomic<int>> hits(100);
    pool.parallel_for(hits.size(), [&](size_t b, size_t e, int) {
      for (size_t i = b; i < e; ++i) hits[i]++;
      sum += static_cast<long>(e - b);
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
  EXPECT_EQ(sum.load(), 30300);
  // The last job's warm-ups (64 MiB) run to their end with no job after them.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const double cpu0 = process_cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_LT(process_cpu_seconds() - cpu0, 0.05) << "a warm-up kept a core busy";
}

// A request is the next job's only, and stop_warming() ends the reads: the
// memory may then be unmapped (a model unloaded between two forward passes)
// while the pool goes on. Before, a worker re-read its last request after
// every later job and read the unmapped weights of an unloaded model.
TEST(ThreadPool, StopWarmingLetsTheMemoryGo) {
  ThreadPool pool(3);
  const size_t bytes = size_t{16} << 20;
  for (int r = 0; r < 40; ++r) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    std::memset(p, 1, bytes);
    const std::span<const uint8_t> region(static_cast<const uint8_t*>(p), bytes);
    pool.warm_after_next_job(1, region);
    pool.warm_after_next_job(2, region.subspan(bytes / 2));
    std::atomic<long> sum{0};
    auto job = [&](size_t b, size_t e, int) { sum += static_cast<long>(e - b); };
    if (r % 2 == 0) pool.parallel_for(100, job);  // picked up, read after the job; odd rounds: never picked up
    pool.stop_warming();
    ASSERT_EQ(munmap(p, bytes), 0);
    for (int j = 0; j < 3; ++j) pool.parallel_for(100, job);
    EXPECT_EQ(sum.load(), r % 2 == 0 ? 400 : 300);
  }
}

TEST(ThreadPool, PhysicalCoresIsPositive) { EXPECT_GE(physical_cores(), 1); }

// One thread alone takes its whole range front to back, then the others'.
TEST(WorkRanges, OneThreadTakesEverythingInOrder) {
  for (int ranges : {1, 2, 3}) {
    for (size_t n : {0ul, 1ul, 2ul, 7ul, 100ul}) {
      WorkRanges w;
      w.reset(n, ranges);
      std::vector<int> hits(n);
      size_t b, e, expect = 0, pieces = 0;
      while (w.next(0, &b, &e)) {
        ASSERT_LT(b, e);
        ASSERT_LE(e, n);
        if (expect < n / ranges) {
          EXPECT_EQ(b, expect) << "own range is taken in order";
        }
        expect = e;
        for (size_t i = b; i < e; ++i) hits[i]++;
        ++pieces;
      }
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(hits[i], 1) << "n=" << n << " i=" << i;
      EXPECT_LE(pieces, n);
      EXPECT_FALSE(w.next(0, &b, &e));
    }
  }
}

// Under a thread pool every index is handed out exactly once; a thread that is
// held up at its first piece (until another thread got a piece of its range,
// at most 10 s) has the rest of its range taken by the others.
TEST(WorkRanges, ThreadsCoverEveryIndexOnceAndStealFromASlowOne) {
  for (int threads : {2, 3, 4}) {
    ThreadPool pool(threads);
    WorkRanges w;
    for (int round = 0; round < 20; ++round) {
      const size_t n = 1000 + static_cast<size_t>(round) * 37;
      w.reset(n, threads);
      std::vector<std::atomic<int>> hits(n);
      std::vector<std::atomic<int>> by(n);
      std::atomic<bool> stolen{false};
      const bool hold = round % 2 == 0;
      pool.parallel_for(static_cast<size_t>(threads), [&](size_t, size_t, int tid) {
        bool first = true;
        for (size_t b, e; w.next(tid, &b, &e);) {
          if (tid != 0 && b < n / threads) stolen = true;
          if (tid == 0 && first && hold) {
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (!stolen && std::chrono::steady_clock::now() < deadline)
              std::this_thread::sleep_for(std::chrono::microseconds(100));
          }
          first = false;
          for (size_t i = b; i < e; ++i) {
            hits[i]++;
            by[i] = tid;
          }
        }
      });
      size_t stolen_from_0 = 0;
      for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(hits[i].load(), 1) << "threads=" << threads << " n=" << n << " i=" << i;
        if (i < n / threads && by[i].load() != 0) ++stolen_from_0;
      }
      if (hold) {
        EXPECT_GT(stolen_from_0, 0u) << "threads=" << threads;
      }
    }
  }
}

}  // namespace
}  // namespace hearth::core
