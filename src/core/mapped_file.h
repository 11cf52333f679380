// A read-only memory mapping of a whole file. Move-only; unmaps on destruction.
// Thread-safe for concurrent reads.
//
// A file that shrinks while mapped (truncated, or rewritten in place by `cp`)
// would kill the process with SIGBUS at the next read of a page past its new
// end. A process-wide SIGBUS handler (installed with the first mapping)
// puts zero pages in place of the lost ones instead and marks the mapping:
// contents_lost() tells its users that what they read is no longer the file.
// Faults outside these mappings keep their usual fate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "hearth/status.h"

namespace hearth::core {

class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // Maps `path` read-only. An empty file maps to size() == 0, data() == nullptr.
  static Result<MappedFile> open(const std::string& path);

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // True once a read reached past the end of the file as it is now (the
  // file shrank while mapped): those pages read as zeros.
  bool contents_lost() const;

  // Copies [offset, offset + n) of the file into dst with pread on the
  // mapped file's descriptor (kept open), without mapping those pages into
  // this process: for one-time reads of large ranges (repacking at load) that
  // should not count in resident memory. kOutOfRange past the end.
  Status read(size_t offset, size_t n, uint8_t* dst) const;

  // Asks the kernel to start reading [offset, offset + n) into the page cache
  // (posix_fadvise WILLNEED) so that later reads do not wait on the disk.
  // Advisory: ranges past the end are clipped, failures ignored. May block
  // while the device's request queue is full, so callers that must not wait
  // run it on a thread of its own.
  void read_ahead(size_t offset, size_t n) const;

 private:
  void reset();
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  int fd_ = -1;
  int slot_ = -1;  // in the SIGBUS handler's table of mappings
  std::string path_;
};

}  // namespace hearth::core
