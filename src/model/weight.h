// A 2-D weight matrix viewed in place inside the mapped GGUF file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/dtype.h"

namespace hearth::model {

struct LoraPair;

struct Weight {
  std::string name;
  DType type = DType::kF32;
  int64_t n_in = 0;    // row length (ne[0])
  int64_t n_out = 0;   // number of rows (ne[1])
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;

  // Rows 0..x16_rows-1 also interleaved 16 at a time (tensor/interleave.h),
  // groups x16_group_bytes apart, when the model repacked this weight at load
  // for the active kernels (see model/repack.h). `data` stays valid for all
  // rows, for kernels that use the GGUF layout.
  const uint8_t* x16 = nullptr;
  int64_t x16_rows = 0;
  size_t x16_group_bytes = 0;

  // A LoRA adapter on this weight: y += scale · B(A x).
  std::shared_ptr<const LoraPair> lora = nullptr;

  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
  bool present() const { return data != nullptr; }
};

// Low-rank pair: a is [n_in -> r] (rows r), b is [r -> n_out] (rows n_out).
struct LoraPair {
  Weight a, b;
  float scale = 1;
};

}  // namespace hearth::model
