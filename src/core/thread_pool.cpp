#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <utility>

namespace hearth::core {

namespace {

std::pair<size_t, size_t> chunk_of(size_t n, size_t grain, int n_chunks, int i) {
  size_t units = (n + grain - 1) / grain;
  size_t per = units / n_chunks, rem = units % n_chunks;
  size_t ub = i * per + std::min<size_t>(i, rem);
  size_t ue = ub + per + (static_cast<size_t>(i) < rem ? 1 : 0);
  return {std::min(n, ub * grain), std::min(n, ue * grain)};
}

}  // namespace

namespace {

using Clock = std::chrono::steady_clock;

// How long a thread busy-waits for the next job or for the others to finish
// before it blocks: long enough to cover the gap between two matmuls of one
// token, short enough not to steal a core from other work.
constexpr auto kSpinBudget = std::chrono::microseconds(30);
// A worker whose last job came within kBusySpin of the one before keeps
// waiting that long (yielding the core to any other runnable thread after the
// first kSpinBudget): the gap between two tokens of a generation loop
// (sampling, bookkeeping) is longer than kSpinBudget, and a blocked worker
// took 50-140 µs to start the next token's first product on this VM kind
// (the futex wake-up is an inter-processor interrupt through the hypervisor).
// An idle pool blocks after at most kBusySpin.
constexpr auto kBusySpin = std::chrono::microseconds(1000);

inline void cpu_relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}

// Spins until done() or the budget runs out; true when done() held. Past
// kSpinBudget each check yields the core.
template <class Done>
bool spin_until(Done done, Clock::duration budget = kSpinBudget, Clock::time_point start = Clock::now()) {
  const auto relaxed = start + kSpinBudget, deadline = start + budget;
  for (int i = 0;; ++i) {
    if (done()) return true;
    cpu_relax();
    if ((i & 31) == 31) {
      const auto now = Clock::now();
      if (now > deadline) return done();
      if (now > relaxed) std::this_thread::yield();
    }
  }
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)), warm_(static_cast<size_t>(n_threads_)) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

// Hand-offs without the mutex while everyone is awake: the caller publishes
// the job and bumps generation_, workers spinning on it pick the job up.
// Sleeping is announced in an atomic (sleeping_, caller_waiting_) before the
// sleeper re-checks its condition under the mutex, and the other side reads
// that announcement after its own update (both sequentially consistent), so
// either the sleeper sees the update or the updater sees the sleeper and
// notifies under the mutex: no lost wake-up.
void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  Clock::duration budget = kSpinBudget;
  for (;;) {
    const auto idle = Clock::now();
    if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; }, budget, idle)) {
      std::unique_lock<std::mutex> lock(mu_);
      sleeping_.fetch_add(1);
      start_cv_.wait(lock, [&] { return generation_.load() != seen; });
      sleeping_.fetch_sub(1);
    }
    budget = Clock::now() - idle <= kBusySpin ? kBusySpin : kSpinBudget;
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    const JobRef job = job_;
    // The request is this job's: consumed here, so that it is never read
    // again after the memory it names may have gone. Announced in warming_
    // before the job counts as done, so that a stop_warming() after this
    // job waits for it.
    const std::span<const uint8_t> after = warm_[static_cast<size_t>(index)];
    warm_[static_cast<size_t>(index)] = {};
    const uint64_t epoch = warm_epoch_.load();
    if (!after.empty()) warming_.fetch_add(1);
    auto [b, e] = chunk_of(job_n_, job_grain_, n_threads_, index);
    if (b < e) job(b, e, index);
    if (pending_.fetch_sub(1) == 1 && caller_waiting_.load()) {
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
    if (!after.empty()) {
      warm(after, seen, epoch);
      warming_.fetch_sub(1);
    }
  }
}

void ThreadPool::stop_warming() {
  for (auto& w : warm_) w = {};
  warm_epoch_.fetch_add(1);
  while (warming_.load() != 0) std::this_thread::yield();
}

void ThreadPool::warm_after_next_job(int thread, std::span<const uint8_t> bytes) {
  if (thread < 1 || thread >= n_threads_) return;
  warm_[static_cast<size_t>(thread)] = bytes;
}

void ThreadPool::warm(std::span<const uint8_t> bytes, uint64_t seen, uint64_t epoch) const {
  // Demand loads, one per line (in the model, A/B on alternate tokens, this
  // warm-up gained ~1%; the same loop of software prefetches instead gained
  // ~0.2%). Checks for a newer job every 4 KiB.
  constexpr size_t kLine = 64, kStep = 4096;
  for (size_t off = 0; off < bytes.size(); off += kStep) {
    if (generation_.load(std::memory_order_relaxed) != seen || warm_epoch_.load(std::memory_order_relaxed) != epoch)
      return;
    const size_t end = std::min(bytes.size(), off + kStep);
    for (size_t o = off; o < end; o += kLine) (void)*reinterpret_cast<const volatile uint8_t*>(bytes.data() + o);
  }
}

void ThreadPool::run(size_t n, JobRef fn, size_t grain) {
  if (n == 0) return;
  grain = std::max<size_t>(1, grain);
  if (n_threads_ == 1 || n <= grain) {
    fn(0, n, 0);
    return;
  }
  // Workers read these only after seeing the new generation, and the
  // previous job's readers have all finished (pending_ reached 0).
  job_ = fn;
  job_n_ = n;
  job_grain_ = grain;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1);
  if (sleeping_.load() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    start_cv_.notify_all();
  }
  auto [b, e] = chunk_of(n, grain, n_threads_, 0);
  if (b < e) fn(b, e, 0);
  if (!spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; })) {
    std::unique_lock<std::mutex> lock(mu_);
    caller_waiting_.store(true);
    done_cv_.wait(lock, [&] { return pending_.load() == 0; });
    caller_waiting_.store(false);
  }
  // Every worker copied its request when it took the job.
  std::fill(warm_.begin(), warm_.end(), std::span<const uint8_t>());
}

int physical_cores() {
  std::ifstream in("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;
  std::string line, phys = "0";
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    std::string val = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "physical id") phys = val;
    if (key == "core id") cores.insert({phys, val});
  }
  if (!cores.empty()) return static_cast<int>(cores.size());
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

}  // namespace hearth::core
