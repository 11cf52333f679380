// A private, zero-filled, page-aligned memory region (anonymous mmap) for
// large buffers built at load time, such as repacked weights. Transparent huge
// pages are requested for it. Move-only; unmapped on destruction.
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

  // An io error naming the size when the system refuses the mapping.
  static Result<AnonMemory> allocate(size_t bytes);

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void reset();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace hearth::core
