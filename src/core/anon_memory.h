// A private, zero-filled, page-aligned memory region (anonymous mmap) for
// large buffers, such as repacked weights. Pages are committed as they are
// first touched; transparent huge pages are requested unless the caller asks
// for small ones, or asks for them later, in the background. Move-only;
// unmapped on destruction (after stopping a background promotion).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "hearth/status.h"

namespace hearth::core {

class AnonMemory {
 public:
  AnonMemory();
  ~AnonMemory();
  AnonMemory(AnonMemory&& other) noexcept;
  AnonMemory& operator=(AnonMemory&& other) noexcept;
  AnonMemory(const AnonMemory&) = delete;
  AnonMemory& operator=(const AnonMemory&) = delete;

  // kHuge: fewer page faults and TLB misses for buffers that are filled
  // whole. kSmall: for buffers touched sparsely or a little at a time (a huge
  // page is zeroed whole at its first touch: 2 MiB of work per scattered
  // write). kHugeLater: small pages while the caller fills the region, then
  // huge pages from promote_in_background(). kHugeAuto: commits the
  // region's huge pages in order while each takes under 2 ms. After a slower
  // one it times 2 MiB of small pages: when they are at least 3 times as
  // quick, the rest is filled in small pages and promoted like kHugeLater;
  // otherwise the rest stays huge, committed as the caller fills it (best
  // by several threads, each populate()-ing its part). In a VM whose free
  // memory the host takes back (free page reporting), a fresh huge page
  // costs the host's backing of 512 small ones at its first touch (4-10 ms
  // instead of 0.2-0.6; 1.0-1.8 s for a 600 MiB model on one thread). Small
  // pages were quick on some hosts (they come first from memory the guest
  // freed recently) and as costly on others (2-4 ms per 2 MiB, paid at the
  // first write from user space): then small pages and their promotion
  // would back the memory twice.
  // kHugeLater and kHugeAuto regions start on a 2 MiB boundary so that all
  // of them can be in huge pages.
  enum class Pages { kHuge, kSmall, kHugeLater, kHugeAuto };
  // An io error naming the size when the system refuses the mapping.
  static Result<AnonMemory> allocate(size_t bytes, Pages pages = Pages::kHuge);

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

  // Commits the pages of [offset, offset + bytes) (clipped to the region)
  // for writing in one call (MADV_POPULATE_WRITE, Linux 5.14+; elsewhere
  // nothing: the writes commit them). Best effort, before filling a range:
  // in a VM, taking one page fault per 4 KiB page as the writes first touch
  // it cost 5-20 times as long (600 MiB: 1.0-2.1 s touched by one or two
  // threads, 0.07-0.33 s populated). Contents unchanged (zero when fresh).
  void populate(size_t offset, size_t bytes) const;

  // kHugeLater regions, and kHugeAuto ones that chose small pages: starts a
  // thread of idle priority (it runs when the cores have nothing else to do)
  // that moves the region into huge pages 2 MiB at a time (MADV_COLLAPSE;
  // contents unchanged, readers may run meanwhile). Where the kernel cannot
  // collapse (before Linux 6.1, or huge pages off) it asks for huge pages
  // (MADV_HUGEPAGE) for the kernel's own background collapsing. Other
  // regions, regions smaller than one huge page, or a second call: nothing.
  void promote_in_background();

  struct Promotion {
    enum class Way {
      kNone,       // not a kHugeLater / kHugeAuto region, or not promoted
      kUpFront,    // kHugeAuto chose huge pages at allocation
      kCollapsed,  // moved into huge pages in the background
      kAdvised,    // the kernel cannot collapse: left to khugepaged
    };
    Way way = Way::kNone;
    // Bytes in huge pages: kUpFront, the region's whole 2 MiB pages
    // (requested: the kernel gives small ones when it has no free huge
    // page); kCollapsed, those collapsed (including any committed huge).
    size_t huge_bytes = 0;
    size_t up_front_bytes = 0;  // kHugeAuto: committed in huge pages at allocation
    double ms = 0;              // kCollapsed: from promote_in_background() to the end
    double fresh_page_ms = 0;   // kHugeAuto: the slowest commit of those pages
    double small_pages_ms = 0;  // kHugeAuto: 2 MiB in small pages, timed after a slow huge page (else 0)
  };
  // Blocks until the background promotion has ended (at once for regions
  // that have none).
  Promotion wait_for_huge_pages() const;

 private:
  struct Promoter;
  void reset();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  void* map_ = nullptr;  // the mapping (data_ rounded up to 2 MiB inside it)
  size_t map_size_ = 0;
  Pages pages_ = Pages::kHuge;
  Promotion chosen_;  // kHugeAuto's choice (way kUpFront or kNone) and probe time
  std::unique_ptr<Promoter> promoter_;
};

}  // namespace hearth::core
