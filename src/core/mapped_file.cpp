#include "core/mapped_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

namespace hearth::core {

namespace {

// The live mappings, read by the SIGBUS handler (lock-free: atomics only).
// A slot is taken by storing its end, then its begin; freed begin first.
struct Slot {
  std::atomic<uintptr_t> begin{0}, end{0};
  std::atomic<bool> lost{false};
};
constexpr int kSlots = 4096;
Slot g_slots[kSlots];
struct sigaction g_previous;  // the handler before ours (ASan's, or the default)
size_t g_page = 4096;
std::once_flag g_installed;

void on_sigbus(int sig, siginfo_t* info, void* context) {
  const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  for (Slot& s : g_slots) {
    const uintptr_t b = s.begin.load(std::memory_order_acquire);
    if (b == 0 || addr < b || addr >= s.end.load(std::memory_order_relaxed)) continue;
    // The file ends before this page: zeros from here to the mapping's end
    // (the reads that faulted go on; mmap is a plain system call here).
    const uintptr_t page = addr & ~(g_page - 1);
    void* p = mmap(reinterpret_cast<void*>(page), s.end.load(std::memory_order_relaxed) - page, PROT_READ,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p != MAP_FAILED) {
      s.lost.store(true, std::memory_order_relaxed);
      return;
    }
    break;
  }
  // Not ours: as it would have been without this handler.
  if ((g_previous.sa_flags & SA_SIGINFO) && g_previous.sa_sigaction != nullptr) {
    g_previous.sa_sigaction(sig, info, context);
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN && g_previous.sa_handler != nullptr) {
    g_previous.sa_handler(sig);
  } else {
    signal(SIGBUS, SIG_DFL);  // the faulting access runs again and ends the process as before
  }
}

void install_handler() {
  std::call_once(g_installed, [] {
    g_page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &g_previous);
  });
}

int take_slot(const uint8_t* data, size_t size) {
  install_handler();
  const auto b = reinterpret_cast<uintptr_t>(data);
  for (int i = 0; i < kSlots; ++i) {
    uintptr_t none = 0;
    if (g_slots[i].end.compare_exchange_strong(none, b + size)) {
      g_slots[i].lost.store(false);
      g_slots[i].begin.store(b, std::memory_order_release);
      return i;
    }
  }
  return -1;  // more mappings than slots: this one is unguarded
}

void free_slot(int i) {
  if (i < 0) return;
  g_slots[i].begin.store(0, std::memory_order_release);
  g_slots[i].end.store(0, std::memory_order_release);
}

}  // namespace

MappedFile::~MappedFile() { reset(); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(other.data_), size_(other.size_), fd_(other.fd_), slot_(other.slot_), path_(std::move(other.path_)) {
  other.data_ = nullptr;
  other.size_ = 0;
  other.fd_ = -1;
  other.slot_ = -1;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = other.data_;
    size_ = other.size_;
    fd_ = other.fd_;
    slot_ = other.slot_;
    path_ = std::move(other.path_);
    other.data_ = nullptr;
    other.size_ = 0;
    other.fd_ = -1;
    other.slot_ = -1;
  }
  return *this;
}

bool MappedFile::contents_lost() const { return slot_ >= 0 && g_slots[slot_].lost.load(std::memory_order_relaxed); }

void MappedFile::reset() {
  free_slot(slot_);
  slot_ = -1;
  if (data_ != nullptr) munmap(const_cast<uint8_t*>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
  data_ = nullptr;
  size_ = 0;
  fd_ = -1;
}

Status MappedFile::read(size_t offset, size_t n, uint8_t* dst) const {
  if (offset > size_ || n > size_ - offset)
    return out_of_range(path_ + ": read of " + std::to_string(n) + " bytes at " + std::to_string(offset) +
                        " is past the end (" + std::to_string(size_) + " bytes)");
  while (n > 0) {
    const ssize_t got = ::pread(fd_, dst, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return io_error(path_ + ": read failed: " + std::strerror(errno));
    if (got == 0) return io_error(path_ + ": file shrank while mapped");
    dst += got;
    offset += static_cast<size_t>(got);
    n -= static_cast<size_t>(got);
  }
  return Status();
}

void MappedFile::read_ahead(size_t offset, size_t n) const {
  if (fd_ < 0 || offset >= size_) return;
  n = std::min(n, size_ - offset);
  (void)::posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(n), POSIX_FADV_WILLNEED);
}

Result<MappedFile> MappedFile::open(const std::string& path) {
  // O_NONBLOCK: opening a FIFO (a models folder entry named like a GGUF)
  // would otherwise wait for a writer forever; no effect on regular files.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) return not_found(path + ": no such file");
    return io_error(path + ": " + std::strerror(e));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return io_error(path + ": " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return invalid_argument(path + ": not a regular file");
  }
  MappedFile mf;
  mf.path_ = path;
  mf.size_ = static_cast<size_t>(st.st_size);
  if (mf.size_ > 0) {
    void* p = mmap(nullptr, mf.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      mf.size_ = 0;
      return io_error(path + ": mmap failed: " + std::strerror(e));
    }
    mf.data_ = static_cast<const uint8_t*>(p);
    mf.slot_ = take_slot(mf.data_, mf.size_);
  }
  mf.fd_ = fd;  // kept for read(): the same file even if its path is replaced
  return mf;
}

}  // namespace hearth::core
