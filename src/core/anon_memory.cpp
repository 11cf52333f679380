#include "core/anon_memory.h"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // Linux 6.1; glibc headers before 2.37 lack the name
#endif

namespace hearth::core {

namespace {
constexpr size_t kHugePage = size_t(2) << 20;
}

struct AnonMemory::Promoter {
  std::atomic<bool> stop{false};
  mutable std::mutex mu;
  mutable std::condition_variable cv;
  bool done = false;
  Promotion result;
  std::thread thread;

  // Collapses the whole 2 MiB pages of [p, p + n) (p 2 MiB-aligned) one at a
  // time, at idle priority, until done or asked to stop.
  void run(uint8_t* p, size_t n, std::chrono::steady_clock::time_point t0) {
    sched_param param{};
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &param);  // best effort
    Promotion r;
    for (size_t off = 0; off + kHugePage <= n && !stop.load(std::memory_order_relaxed); off += kHugePage) {
      int rc = madvise(p + off, kHugePage, MADV_COLLAPSE);
      if (rc != 0 && errno == EAGAIN) rc = madvise(p + off, kHugePage, MADV_COLLAPSE);  // transient: retry once
      if (rc == 0) {
        r.huge_bytes += kHugePage;
      } else if (errno == EINVAL) {
        // No MADV_COLLAPSE here (or huge pages are off): leave it to the
        // kernel's background collapsing, where enabled.
        r.collapsed = false;
#ifdef MADV_HUGEPAGE
        madvise(p, n, MADV_HUGEPAGE);
#endif
        break;
      }
      // Otherwise (ENOMEM: no free huge page now) the page stays small.
    }
    r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::lock_guard<std::mutex> lock(mu);
    result = r;
    done = true;
    cv.notify_all();
  }
};

AnonMemory::AnonMemory() = default;
AnonMemory::~AnonMemory() { reset(); }

AnonMemory::AnonMemory(AnonMemory&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      map_(std::exchange(other.map_, nullptr)),
      map_size_(std::exchange(other.map_size_, 0)),
      pages_(other.pages_),
      promoter_(std::move(other.promoter_)) {}

AnonMemory& AnonMemory::operator=(AnonMemory&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    map_ = std::exchange(other.map_, nullptr);
    map_size_ = std::exchange(other.map_size_, 0);
    pages_ = other.pages_;
    promoter_ = std::move(other.promoter_);
  }
  return *this;
}

void AnonMemory::reset() {
  if (promoter_ != nullptr) {
    promoter_->stop.store(true);
    if (promoter_->thread.joinable()) promoter_->thread.join();
    promoter_.reset();
  }
  if (map_ != nullptr) munmap(map_, map_size_);
  data_ = nullptr;
  size_ = 0;
  map_ = nullptr;
  map_size_ = 0;
}

Result<AnonMemory> AnonMemory::allocate(size_t bytes, Pages pages) {
  AnonMemory m;
  if (bytes == 0) return m;
  // kHugeLater: room to start the region on a 2 MiB boundary.
  const size_t map_bytes = pages == Pages::kHugeLater ? bytes + kHugePage : bytes;
  void* p = mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    const int e = errno;
    return io_error("cannot allocate " + std::to_string(bytes >> 20) + " MiB: " + std::strerror(e));
  }
#ifdef MADV_HUGEPAGE
  if (pages == Pages::kHuge) madvise(p, bytes, MADV_HUGEPAGE);  // advisory only
#endif
  m.map_ = p;
  m.map_size_ = map_bytes;
  m.pages_ = pages;
  const auto addr = reinterpret_cast<uintptr_t>(p);
  m.data_ = reinterpret_cast<uint8_t*>(pages == Pages::kHugeLater ? (addr + kHugePage - 1) & ~(kHugePage - 1) : addr);
  m.size_ = bytes;
  return m;
}

void AnonMemory::promote_in_background() {
  if (pages_ != Pages::kHugeLater || promoter_ != nullptr || data_ == nullptr) return;
  promoter_ = std::make_unique<Promoter>();
  Promoter* pr = promoter_.get();
  uint8_t* p = data_;
  const size_t n = size_;
  const auto t0 = std::chrono::steady_clock::now();
  pr->thread = std::thread([pr, p, n, t0] { pr->run(p, n, t0); });
}

AnonMemory::Promotion AnonMemory::wait_for_huge_pages() const {
  if (promoter_ == nullptr) return Promotion{0, 0, false};
  std::unique_lock<std::mutex> lock(promoter_->mu);
  promoter_->cv.wait(lock, [this] { return promoter_->done; });
  return promoter_->result;
}

}  // namespace hearth::core
