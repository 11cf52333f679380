// A fixed pool of worker threads for data-parallel loops.
//
// parallel_for splits [0, n) into one contiguous chunk per thread; the calling
// thread runs chunk 0. Between jobs a worker spins briefly (30 µs, so
// back-to-back matmuls of one token do not pay a wake-up; up to 1 ms, yielding
// the core, while jobs keep coming that often, so the tokens of a generation
// loop do not either), then sleeps on a condition variable: an idle pool uses
// no CPU.
// One parallel_for at a time per pool: the pool is owned by one caller thread
// (the model's evaluator), not shared between concurrent callers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <type_traits>
#include <mutex>
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

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  JobRef job_;
  size_t job_n_ = 0;
  size_t job_grain_ = 1;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleeping_{0};            // workers about to wait or waiting on start_cv_
  std::atomic<bool> caller_waiting_{false};  // the caller about to wait or waiting on done_cv_
  std::atomic<bool> stop_{false};
};

// Number of physical cores (falls back to logical CPUs when unknown).
int physical_cores();

}  // namespace hearth::core
