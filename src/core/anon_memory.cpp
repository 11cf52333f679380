#include "core/anon_memory.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace hearth::core {

AnonMemory::~AnonMemory() { reset(); }

AnonMemory::AnonMemory(AnonMemory&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

AnonMemory& AnonMemory::operator=(AnonMemory&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void AnonMemory::reset() {
  if (data_ != nullptr) munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

Result<AnonMemory> AnonMemory::allocate(size_t bytes, Pages pages) {
  AnonMemory m;
  if (bytes == 0) return m;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    const int e = errno;
    return io_error("cannot allocate " + std::to_string(bytes >> 20) + " MiB: " + std::strerror(e));
  }
#ifdef MADV_HUGEPAGE
  if (pages == Pages::kHuge) madvise(p, bytes, MADV_HUGEPAGE);  // advisory only
#endif
  m.data_ = static_cast<uint8_t*>(p);
  m.size_ = bytes;
  return m;
}

}  // namespace hearth::core
