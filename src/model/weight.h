// A 2-D weight matrix viewed in place inside the mapped GGUF file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/dtype.h"

namespace hearth::model {

struct Weight {
  std::string name;
  DType type = DType::kF32;
  int64_t n_in = 0;    // row length (ne[0])
  int64_t n_out = 0;   // number of rows (ne[1])
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;

  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
  bool present() const { return data != nullptr; }
};

}  // namespace hearth::model
