// Builds a GGUF v3 file: metadata in insertion order, tensors laid out in
// insertion order at `general.alignment` (default 32).
// Not thread-safe; the tensor bytes passed in are copied.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "gguf/value.h"
#include "hearth/status.h"

namespace hearth::gguf {

class Writer {
 public:
  // Adds or replaces a metadata entry (replacing keeps the original position).
  void set(const std::string& key, Value value);
  // Adds a tensor; `ne` has 1..4 entries, ne[0] the row length. Fails on a
  // duplicate name, a bad shape or a byte count that does not match.
  Status add_tensor(const std::string& name, DType type, const std::vector<int64_t>& ne,
                    std::vector<uint8_t> data);

  std::vector<uint8_t> to_bytes() const;
  // Writes atomically: a temporary file beside `path`, fsync, rename.
  Status write_file(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    DType type;
    std::vector<int64_t> ne;
    std::vector<uint8_t> data;
  };
  std::vector<std::pair<std::string, Value>> kv_;
  std::vector<Tensor> tensors_;
};

}  // namespace hearth::gguf
