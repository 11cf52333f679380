#include "core/anon_memory.h"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // Linux 6.1; glibc headers before 2.37 lack the name
#endif

namespace hearth::core {

namespace {
constexpr size_t kHugePage = size_t(2) << 20;
// kHugeAuto: huge pages are committed one by one until one takes longer
// than this (measured: 0.2-0.6 ms when the memory is backed, 6.5-10 ms when
// the host has to back it again). HEARTH_HUGE_PAGE_LIMIT_MS overrides (0:
// small pages after the first huge one; a large value: huge pages always).
// kHugeAuto, after a slow huge page: small pages first (and huge ones in
// the background) only when 2 MiB of them commit this many times faster.
constexpr double kSmallPagesAdvantage = 3.0;
double fresh_page_limit_ms() {
  constexpr double kDefault = 2.0;
  const char* v = std::getenv("HEARTH_HUGE_PAGE_LIMIT_MS");
  if (v == nullptr || *v == '\0') return kDefault;
  char* end = nullptr;
  const double ms = std::strtod(v, &end);
  return end != v && *end == '\0' && ms >= 0 ? ms : kDefault;
}
}  // namespace

struct AnonMemory::Promoter {
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Promotion result;
  std::thread thread;

  // Collapses the whole 2 MiB pages of [p, p + n) (p 2 MiB-aligned) one at a
  // time, at idle priority, until done or asked to stop.
  void run(uint8_t* p, size_t n, std::chrono::steady_clock::time_point t0, Promotion r) {
    sched_param param{};
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &param);  // best effort
    r.way = Promotion::Way::kCollapsed;
#ifdef MADV_HUGEPAGE
    madvise(p, n, MADV_HUGEPAGE);  // clears MADV_NOHUGEPAGE, which would refuse the collapse
#endif
    // A page that cannot be collapsed now (EAGAIN: its small pages could not
    // be isolated, as right after they were faulted in or while other work
    // holds them; ENOMEM: no free huge page) is tried again a few times, the
    // last after the rest of the region; then it stays small.
    auto collapse = [&](size_t off) {
      int rc = madvise(p + off, kHugePage, MADV_COLLAPSE);
      for (int retry = 0; rc != 0 && errno == EAGAIN && retry < 3; ++retry) {
        if (retry > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        rc = madvise(p + off, kHugePage, MADV_COLLAPSE);
      }
      return rc == 0 ? 0 : errno;
    };
    std::vector<size_t> later;
    for (size_t off = 0; off + kHugePage <= n && !stop.load(std::memory_order_relaxed); off += kHugePage) {
      const int e = collapse(off);
      if (e == 0) {
        r.huge_bytes += kHugePage;
      } else if (e == EINVAL) {
        // No MADV_COLLAPSE here (or huge pages are off): leave it to the
        // kernel's background collapsing, where enabled.
        r.way = Promotion::Way::kAdvised;
        r.huge_bytes = 0;
        later.clear();
        break;
      } else {
        later.push_back(off);
      }
    }
    if (!later.empty() && !stop.load(std::memory_order_relaxed)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (size_t off : later)
      if (!stop.load(std::memory_order_relaxed) && collapse(off) == 0) r.huge_bytes += kHugePage;
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
      chosen_(other.chosen_),
      promoter_(std::move(other.promoter_)) {}

AnonMemory& AnonMemory::operator=(AnonMemory&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    map_ = std::exchange(other.map_, nullptr);
    map_size_ = std::exchange(other.map_size_, 0);
    pages_ = other.pages_;
    chosen_ = other.chosen_;
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
  const bool aligned = pages == Pages::kHugeLater || pages == Pages::kHugeAuto;
  // Room to start the region on a 2 MiB boundary.
  const size_t map_bytes = aligned ? bytes + kHugePage : bytes;
  void* p = mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    const int e = errno;
    return io_error("cannot allocate " + std::to_string(bytes >> 20) + " MiB: " + std::strerror(e));
  }
  m.map_ = p;
  m.map_size_ = map_bytes;
  m.pages_ = pages;
  const auto addr = reinterpret_cast<uintptr_t>(p);
  m.data_ = reinterpret_cast<uint8_t*>(aligned ? (addr + kHugePage - 1) & ~(kHugePage - 1) : addr);
  m.size_ = bytes;
#ifdef MADV_HUGEPAGE  // all advisory
  if (pages == Pages::kHuge) madvise(p, bytes, MADV_HUGEPAGE);
  size_t huge_done = 0;  // kHugeAuto: bytes committed in huge pages
  if (pages == Pages::kHugeAuto) {
    // In order, while they are cheap: the guest may hold some backed memory
    // (freed recently) and then none.
    const size_t whole = bytes / kHugePage * kHugePage;
    const double limit_ms = fresh_page_limit_ms();
    bool slow = false;
    while (huge_done < whole && !slow) {
      madvise(m.data_ + huge_done, kHugePage, MADV_HUGEPAGE);
      const auto t0 = std::chrono::steady_clock::now();
      *reinterpret_cast<volatile uint8_t*>(m.data_ + huge_done) = 0;  // commits the page (zero-filled anyway)
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      m.chosen_.fresh_page_ms = std::max(m.chosen_.fresh_page_ms, ms);
      slow = ms > limit_ms;
      huge_done += kHugePage;
    }
    m.chosen_.up_front_bytes = huge_done;
    if (huge_done > 0 && !slow) {
      m.chosen_.way = Promotion::Way::kUpFront;
      m.chosen_.huge_bytes = huge_done;
      return m;
    }
    // A fresh huge page was slow: the host is backing the memory. Small
    // pages are cheaper when they come from memory the guest freed recently,
    // not when the host backs them too (then each costs its own fault, and
    // moving them into huge pages later costs as much again): 2 MiB of them,
    // the region's last, are timed to choose.
    if (slow && limit_ms > 0 && huge_done + kHugePage <= whole) {
      uint8_t* probe = m.data_ + whole - kHugePage;
      madvise(probe, kHugePage, MADV_NOHUGEPAGE);
      const auto t0 = std::chrono::steady_clock::now();
      madvise(probe, kHugePage, MADV_POPULATE_WRITE);
      // A host that backs a page at its first write from user space (not at
      // the kernel's zeroing) is timed by that write; zero keeps the contents.
      for (size_t off = 0; off < kHugePage; off += 4096) *reinterpret_cast<volatile uint8_t*>(probe + off) = 0;
      const double small_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      m.chosen_.small_pages_ms = small_ms;
      if (small_ms * kSmallPagesAdvantage >= m.chosen_.fresh_page_ms) {
        // Huge pages after all, committed as the caller fills the region
        // (several threads' populate() calls back it in parallel).
        madvise(probe, kHugePage, MADV_DONTNEED);
        madvise(m.data_ + huge_done, bytes - huge_done, MADV_HUGEPAGE);
        m.chosen_.way = Promotion::Way::kUpFront;
        m.chosen_.huge_bytes = whole;
        return m;
      }
    }
  }
  // Small pages while filling, even where the system default is "always".
  if (pages == Pages::kHugeLater || pages == Pages::kHugeAuto)
    madvise(m.data_ + huge_done, bytes - huge_done, MADV_NOHUGEPAGE);
#endif
  return m;
}

void AnonMemory::populate(size_t offset, size_t bytes) const {
  if (data_ == nullptr || offset >= size_) return;
  constexpr size_t kPage = 4096;
  const size_t end = std::min(size_, offset + std::min(bytes, size_ - offset));
  const size_t begin = offset / kPage * kPage;  // data_ is page-aligned
  const size_t stop = (end + kPage - 1) / kPage * kPage;
  madvise(data_ + begin, stop - begin, MADV_POPULATE_WRITE);  // EINVAL before 5.14: the writes commit them
}

void AnonMemory::promote_in_background() {
  if (promoter_ != nullptr || size_ < kHugePage) return;  // nothing to collapse in a smaller region
  if (pages_ != Pages::kHugeLater && !(pages_ == Pages::kHugeAuto && chosen_.way == Promotion::Way::kNone)) return;
  promoter_ = std::make_unique<Promoter>();
  Promoter* pr = promoter_.get();
  uint8_t* p = data_;
  const size_t n = size_;
  const auto t0 = std::chrono::steady_clock::now();
  const Promotion start = chosen_;
  pr->thread = std::thread([pr, p, n, t0, start] { pr->run(p, n, t0, start); });
}

AnonMemory::Promotion AnonMemory::wait_for_huge_pages() const {
  if (promoter_ == nullptr) return chosen_;
  std::unique_lock<std::mutex> lock(promoter_->mu);
  promoter_->cv.wait(lock, [this] { return promoter_->done; });
  return promoter_->result;
}

}  // namespace hearth::core
