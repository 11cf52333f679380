// A private, zero-filled, page-aligned memory region (anonymous mmap) for
// large buffers, such as repacked weights. Pages are committed as they are
// first touched; transparent huge pages are requested unless the caller asks
// for small ones. Move-only; unmapped on destruction.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hearth/status.h"

namespace hearth::core {

class AnonMemory {
 public:
  AnonMemory() = default;
  ~AnonMemory();
  AnonMemory(AnonMemory&& other) noexcept;
  AnonMemory& operator=(AnonMemory&& other) noexcept;
  AnonMemory(const AnonMemory&) = delete;
  AnonMemory& operator=(const AnonMemory&) = delete;

  // kHuge: fewer page faults and TLB misses for buffers that are filled
  // whole. kSmall: for buffers touched sparsely or a little at a time (a huge
  // page is zeroed whole at its first touch: 2 MiB of work per scattered write).
  enum class Pages { kHuge, kSmall };
  // An io error naming the size when the system refuses the mapping.
  static Result<AnonMemory> allocate(size_t bytes, Pages pages = Pages::kHuge);

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void reset();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace hearth::core
