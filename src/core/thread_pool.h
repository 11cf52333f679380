// A fixed pool of worker threads for data-parallel loops.
//
// parallel_for splits [0, n) into one contiguous chunk per thread; the calling
// thread runs chunk 0. Between jobs a worker spins briefly (30 µs, so
// back-to-back matmuls of one token do not pay a wake-up; up to 1 ms, yielding
// the core, while jobs keep coming that often, so the tokens of a generation
// loop do not either), then sleeps on a condition variable: an idle pool uses
// no CPU.
// In generation a worker can be told what to read after its chunk of the next
// job (warm_after_next_job): the start of its share of the product that comes
// after that job, read into its cache while the caller runs the serial work in
// between (row operations, attention), so memory does not idle there.
// One parallel_for at a time per pool: the pool is owned by one caller thread
// (the model's evaluator), not shared between concurrent callers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <type_traits>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

namespace hearth::core {

class ThreadPool {
 public:
  // n_threads >= 1, counting the caller; n_threads - 1 workers are started.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return n_threads_; }

  // After its chunk of the next job that runs on more than one thread, worker
  // `thread` (1 <= thread < n_threads; other values are ignored) reads
  // `bytes` into its cache, one load per line, until the end, until a newer
  // job arrives or until stop_warming(). The job that picks the request up
  // consumes it; jobs run on the caller alone leave it in place.
  void warm_after_next_job(int thread, std::span<const uint8_t> bytes);

  // Drops the requests not yet picked up and returns once no worker is
  // reading memory for one (each checks every 4 KiB): call it before that
  // memory may go away (a model unloaded between jobs). Caller thread only.
  void stop_warming();

  // fn(begin, end, thread_index) over a partition of [0, n). Returns when all
  // chunks are done. Chunks are aligned to `grain` items (except the last).
  // fn is called through a non-owning reference: no allocation per call.
  template <class F>
  void parallel_for(size_t n, F&& fn, size_t grain = 1) {
    using Fn = std::remove_reference_t<F>;
    run(n,
        JobRef{const_cast<void*>(static_cast<const void*>(std::addressof(fn))),
               [](void* f, size_t b, size_t e, int t) { (*static_cast<Fn*>(f))(b, e, t); }},
        grain);
  }

 private:
  // A callable borrowed for the duration of one parallel_for.
  struct JobRef {
    void* fn = nullptr;
    void (*call)(void*, size_t, size_t, int) = nullptr;
    void operator()(size_t b, size_t e, int t) const { call(fn, b, e, t); }
  };
  void run(size_t n, JobRef job, size_t grain);
  void worker_loop(int index);
  // Reads `bytes` while no job newer than `seen` has been published and
  // stop_warming() has not moved warm_epoch_ past `epoch`.
  void warm(std::span<const uint8_t> bytes, uint64_t seen, uint64_t epoch) const;

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  JobRef job_;
  size_t job_n_ = 0;
  size_t job_grain_ = 1;
  std::vector<std::span<const uint8_t>> warm_;  // per thread, for the next job (index 0 unused)
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> warm_epoch_{0};  // bumped by stop_warming()
  std::atomic<int> warming_{0};          // workers that will read or are reading a request's bytes
  std::atomic<int> pending_{0};
  std::atomic<int> sleeping_{0};            // workers about to wait or waiting on start_cv_
  std::atomic<bool> caller_waiting_{false};  // the caller about to wait or waiting on done_cv_
  std::atomic<bool> stop_{false};
};

// Number of physical cores (falls back to logical CPUs when unknown).
int physical_cores();

}  // namespace hearth::core
