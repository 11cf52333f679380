// A parsed GGUF file (versions 2 and 3): metadata, tensor infos, and tensor data
// pointing into a read-only mmap of the file (the weights are never copied).
//
// Parsing treats the bytes as untrusted: every count, length, offset and shape
// is checked before use, and a malformed file yields a kCorrupt/kUnsupported
// Status naming the problem and its byte offset. A File is immutable after
// parsing and safe to read from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"
#include "gguf/value.h"
#include "hearth/status.h"

namespace hearth::gguf {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint32_t kDefaultAlignment = 32;
constexpr int kMaxDims = 4;

// Caps on sizes read from a file (a hostile file cannot make hearth allocate
// more than a small multiple of its own size, nor more than these).
struct Limits {
  uint64_t max_key_bytes = 64 * 1024;
  uint64_t max_string_bytes = 256ull << 20;
  uint64_t max_array_elements = 64ull << 20;
  uint64_t max_kv = 1u << 20;
  uint64_t max_tensors = 1u << 20;
  int max_array_depth = 4;
};

struct TensorInfo {
  std::string name;
  DType type = DType::kF32;
  int n_dims = 0;
  int64_t ne[kMaxDims] = {1, 1, 1, 1};  // ne[0] is the row length (contiguous)
  uint64_t offset = 0;                   // relative to the data section
  size_t n_bytes = 0;
  const uint8_t* data = nullptr;         // into the mapping

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
  std::string shape_string() const;  // "[64, 512]"
};

class File {
 public:
  // Maps and parses `path`.
  static Result<File> open(const std::string& path, const Limits& limits = {});
  // Parses bytes the caller keeps alive for the File's lifetime (tests, fuzzing).
  static Result<File> parse(const uint8_t* data, size_t size, const std::string& label,
                            const Limits& limits = {});

  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  const std::string& label() const { return label_; }
  size_t file_size() const { return size_; }
  // The mapped file shrank under this File (core::MappedFile::contents_lost).
  bool contents_lost() const { return mapping_ && mapping_->contents_lost(); }

  const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
  const Value* find(const std::string& key) const;
  // Typed getters: kNotFound when absent, kInvalidArgument when the type is wrong.
  Result<int64_t> get_int(const std::string& key) const;
  Result<double> get_float(const std::string& key) const;
  Result<std::string> get_string(const std::string& key) const;
  Result<bool> get_bool(const std::string& key) const;
  int64_t get_int_or(const std::string& key, int64_t fallback) const;
  double get_float_or(const std::string& key, double fallback) const;
  std::string get_string_or(const std::string& key, const std::string& fallback) const;
  bool get_bool_or(const std::string& key, bool fallback) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* tensor(const std::string& name) const;

  // Copies n bytes at p (inside this file's data) into dst: with a read from
  // the file when it is mapped, so the pages do not become resident in this
  // process (see core::MappedFile::read); a memcpy for caller bytes.
  Status copy_bytes(const uint8_t* p, size_t n, uint8_t* dst) const;

  // Starts reading the n bytes at p into the page cache ahead of copy_bytes
  // (core::MappedFile::read_ahead); nothing for caller bytes or ranges
  // outside the file.
  void read_ahead(const uint8_t* p, size_t n) const;

 private:
  std::shared_ptr<core::MappedFile> mapping_;  // null when parsing caller bytes
  std::string label_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> kv_;
  std::unordered_map<std::string, size_t> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;

  friend class Parser;
};

}  // namespace hearth::gguf
