// Tensor element types as numbered in GGUF files (ggml's type ids), with their
// block geometry. The semantics (how blocks decode) live in src/tensor/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace hearth {

enum class DType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ8_1 = 9,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kQ8_K = 15, kBF16 = 30,
};

struct DTypeInfo {
  DType type;
  const char* name;     // "Q4_K"
  int64_t block_size;   // elements per block
  size_t block_bytes;   // bytes per block
  bool quantized;
};

// Info for a type id read from a file; nullopt when hearth does not know it.
std::optional<DTypeInfo> dtype_info(uint32_t id);
const DTypeInfo& dtype_info(DType t);
const char* dtype_name(DType t);
std::optional<DType> dtype_from_name(std::string_view name);  // case-insensitive

// Bytes of a row of n elements (n must be a multiple of the block size).
inline size_t row_bytes(DType t, int64_t n) {
  const DTypeInfo& i = dtype_info(t);
  return static_cast<size_t>(n / i.block_size) * i.block_bytes;
}

}  // namespace hearth
