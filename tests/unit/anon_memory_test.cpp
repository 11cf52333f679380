#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "core/anon_memory.h"

namespace hearth::core {
namespace {

constexpr size_t kHuge = size_t(2) << 20;

// A field of /proc/self/smaps (bytes; "AnonHugePages", "Rss") summed over
// the mappings that overlap [p, p + n): madvise on parts of a region splits
// it into several.
size_t smaps_bytes_in(const void* p, size_t n, const char* field) {
  std::ifstream in("/proc/self/smaps");
  const auto addr = reinterpret_cast<uintptr_t>(p);
  std::string line;
  bool inside = false;
  size_t total = 0;
  while (std::getline(in, line)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find(':') > line.find('-')) {
      inside = lo < addr + n && hi > addr;
      continue;
    }
    size_t kib = 0;
    if (inside && line.rfind(std::string(field) + ":", 0) == 0 &&
        std::sscanf(line.c_str() + std::strlen(field) + 1, " %zu kB", &kib) == 1)
      total += kib * 1024;
  }
  return total;
}

size_t anon_huge_bytes_in(const void* p, size_t n) { return smaps_bytes_in(p, n, "AnonHugePages"); }

bool kernel_at_least(int want_major, int want_minor) {
  std::ifstream rel("/proc/sys/kernel/osrelease");
  int major = 0, minor = 0;
  char dot = 0;
  if (!(rel >> major >> dot >> minor)) return false;
  return major > want_major || (major == want_major && minor >= want_minor);
}

// Whether this kernel can collapse on request: Linux >= 6.1 with
// transparent huge pages not "never".
bool kernel_can_collapse() {
  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  if (!std::getline(thp, mode) || mode.find("[never]") != std::string::npos) return false;
  return kernel_at_least(6, 1);
}

void fill(uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(i * 131 + (i >> 12));
}

size_t first_mismatch(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != static_cast<uint8_t>(i * 131 + (i >> 12))) return i;
  return n;
}

// populate() commits the pages that overlap the range, and only those, where
// the kernel has MADV_POPULATE_WRITE (Linux 5.14); contents are kept;
// ranges past the end are clipped.
TEST(AnonMemory, PopulateCommitsThePagesOfTheRange) {
  // kHugeLater: small pages until promoted, even where huge pages are "always".
  auto m = AnonMemory::allocate(3 * kHuge + 100, AnonMemory::Pages::kHugeLater);
  ASSERT_TRUE(m.ok()) << m.status().message();
  AnonMemory& mem = m.value();
  EXPECT_EQ(smaps_bytes_in(mem.data(), mem.size(), "Rss"), 0u);
  mem.populate(4096 + 10, 8192);  // pages 1, 2 and 3
  if (kernel_at_least(5, 14)) {
    EXPECT_EQ(smaps_bytes_in(mem.data(), mem.size(), "Rss"), 3 * 4096u);
  }
  for (size_t i = 0; i < mem.size(); i += 4096) EXPECT_EQ(mem.data()[i], 0) << i;
  mem.data()[5000] = 7;
  mem.populate(0, mem.size());
  mem.populate(mem.size() - 10, 1000);  // clipped
  mem.populate(mem.size(), 4096);       // nothing
  mem.populate(0, 0);
  EXPECT_EQ(mem.data()[5000], 7);
  if (kernel_at_least(5, 14)) {
    EXPECT_EQ(smaps_bytes_in(mem.data(), mem.size(), "Rss"), (mem.size() + 4095) / 4096 * 4096);
  }
  AnonMemory empty;
  empty.populate(0, 4096);
}

// A region filled in small pages and promoted afterwards starts on a 2 MiB
// boundary, keeps every byte, and the huge pages it reports are the ones the
// kernel shows for it: all its whole 2 MiB pages where the kernel can
// collapse (Linux >= 6.1 with huge pages not off), none otherwise.
TEST(AnonMemory, PromotionToHugePagesKeepsTheContents) {
  const size_t n = 4 * kHuge + 12345;
  auto r = AnonMemory::allocate(n, AnonMemory::Pages::kHugeLater);
  ASSERT_TRUE(r.ok()) << r.status().message();
  AnonMemory mem = std::move(r.value());
  ASSERT_EQ(mem.size(), n);
  ASSERT_EQ(reinterpret_cast<uintptr_t>(mem.data()) % kHuge, 0u);
  fill(mem.data(), n);
  EXPECT_EQ(anon_huge_bytes_in(mem.data(), mem.size()), 0u) << "small pages while filling";
  EXPECT_EQ(mem.wait_for_huge_pages().way, AnonMemory::Promotion::Way::kNone) << "not promoted yet";
  mem.promote_in_background();
  mem.promote_in_background();  // a second call changes nothing
  const AnonMemory::Promotion p = mem.wait_for_huge_pages();
  EXPECT_EQ(first_mismatch(mem.data(), n), n);
  EXPECT_GE(p.ms, 0);
  using Way = AnonMemory::Promotion::Way;
  EXPECT_EQ(p.way, kernel_can_collapse() ? Way::kCollapsed : Way::kAdvised);
  if (p.way == Way::kCollapsed) {
    EXPECT_EQ(p.huge_bytes, 4 * kHuge);
    EXPECT_GE(anon_huge_bytes_in(mem.data(), mem.size()), p.huge_bytes);
  } else {
    EXPECT_EQ(p.huge_bytes, 0u);
  }
  // Waiting again returns the same result.
  EXPECT_EQ(mem.wait_for_huge_pages().huge_bytes, p.huge_bytes);
}

// Moving a region while it is promoted keeps the promotion with it;
// destroying one mid-way stops its thread before unmapping.
TEST(AnonMemory, MoveAndDestroyDuringPromotion) {
  const size_t n = 32 * kHuge;
  for (int round = 0; round < 3; ++round) {
    auto r = AnonMemory::allocate(n, AnonMemory::Pages::kHugeLater);
    ASSERT_TRUE(r.ok());
    AnonMemory a = std::move(r.value());
    fill(a.data(), n);
    a.promote_in_background();
    AnonMemory b = std::move(a);
    EXPECT_EQ(a.data(), nullptr);
    EXPECT_EQ(a.wait_for_huge_pages().huge_bytes, 0u);  // nothing left in a
    if (round == 0) {
      const AnonMemory::Promotion p = b.wait_for_huge_pages();
      EXPECT_EQ(first_mismatch(b.data(), n), n);
      if (p.way == AnonMemory::Promotion::Way::kCollapsed) {
        EXPECT_EQ(p.huge_bytes, n);
      }
    } else if (round == 1) {
      auto other = AnonMemory::allocate(kHuge, AnonMemory::Pages::kSmall);
      ASSERT_TRUE(other.ok());
      b = std::move(other.value());  // stops and unmaps the promoted region
      EXPECT_EQ(b.size(), kHuge);
    }
    // round 2: b is destroyed while its promotion may still run.
  }
}

// kHugeAuto commits huge pages while they are cheap: all of them (then
// nothing is left to promote), or up to the first slow one; then 2 MiB of
// small pages are timed, and the rest is either requested in huge pages
// (committed as it is filled) or filled in small pages and promoted like
// kHugeLater; either way the contents stay and what it reports is what the
// kernel shows. HEARTH_HUGE_PAGE_LIMIT_MS forces the first two ways (0:
// small pages after the first, untimed; 1e9: no page is slow); 1e-6: the
// first page is slow and the small pages' time chooses, as unset when the
// host backs fresh memory slowly.
TEST(AnonMemory, AutoChoosesByTheFreshPageTime) {
  using Way = AnonMemory::Promotion::Way;
  const size_t n = 6 * kHuge + 100;
  for (const char* limit : {"0", "1e9", "1e-6", ""}) {
    SCOPED_TRACE(std::string("HEARTH_HUGE_PAGE_LIMIT_MS=") + limit);
    setenv("HEARTH_HUGE_PAGE_LIMIT_MS", limit, 1);
    auto r = AnonMemory::allocate(n, AnonMemory::Pages::kHugeAuto);
    unsetenv("HEARTH_HUGE_PAGE_LIMIT_MS");
    ASSERT_TRUE(r.ok());
    AnonMemory mem = std::move(r.value());
    ASSERT_EQ(reinterpret_cast<uintptr_t>(mem.data()) % kHuge, 0u);
    const AnonMemory::Promotion chosen = mem.wait_for_huge_pages();  // before any promotion: the choice
    EXPECT_GT(chosen.fresh_page_ms, 0);
    EXPECT_EQ(chosen.up_front_bytes % kHuge, 0u);
    if (std::string(limit) == "0") {
      EXPECT_EQ(chosen.way, Way::kNone);
      EXPECT_EQ(chosen.up_front_bytes, kHuge);  // the first page, found slow
      EXPECT_EQ(chosen.small_pages_ms, 0);
    } else if (std::string(limit) == "1e9") {
      EXPECT_EQ(chosen.way, Way::kUpFront);
      EXPECT_EQ(chosen.small_pages_ms, 0);
    } else if (std::string(limit) == "1e-6") {
      EXPECT_EQ(chosen.up_front_bytes, kHuge);
      EXPECT_GT(chosen.small_pages_ms, 0);
    }
    // Fresh memory reads as zeros whatever was committed or timed.
    EXPECT_EQ(std::count(mem.data(), mem.data() + n, uint8_t{0}), static_cast<std::ptrdiff_t>(n));
    fill(mem.data(), n);
    mem.promote_in_background();
    const AnonMemory::Promotion p = mem.wait_for_huge_pages();
    EXPECT_EQ(first_mismatch(mem.data(), n), n);
    EXPECT_EQ(p.fresh_page_ms, chosen.fresh_page_ms);
    EXPECT_EQ(p.up_front_bytes, chosen.up_front_bytes);
    EXPECT_EQ(p.small_pages_ms, chosen.small_pages_ms);
    if (chosen.way == Way::kUpFront) {
      EXPECT_EQ(p.way, Way::kUpFront);
      EXPECT_EQ(p.huge_bytes, 6 * kHuge);
      // All committed at allocation, or the rest left to the filling after
      // small pages were found no quicker.
      if (chosen.small_pages_ms > 0) {
        EXPECT_GE(p.up_front_bytes, kHuge);
        EXPECT_LE(p.up_front_bytes, 5 * kHuge);
      } else {
        EXPECT_EQ(p.up_front_bytes, 6 * kHuge);
      }
    } else {
      EXPECT_EQ(chosen.way, Way::kNone);
      EXPECT_GE(chosen.up_front_bytes, kHuge);
      EXPECT_LE(chosen.up_front_bytes, 6 * kHuge);
      EXPECT_EQ(p.way, kernel_can_collapse() ? Way::kCollapsed : Way::kAdvised);
      if (p.way == Way::kCollapsed) {
        EXPECT_EQ(p.huge_bytes, 6 * kHuge);
        EXPECT_GE(anon_huge_bytes_in(mem.data(), mem.size()), p.huge_bytes);
      }
    }
  }
}

// Only kHugeLater and kHugeAuto regions of at least one huge page are
// promoted; the others report nothing.
TEST(AnonMemory, OtherRegionsAreNotPromoted) {
  for (auto pages : {AnonMemory::Pages::kHuge, AnonMemory::Pages::kSmall}) {
    auto r = AnonMemory::allocate(3 * kHuge, pages);
    ASSERT_TRUE(r.ok());
    r.value().promote_in_background();
    const AnonMemory::Promotion p = r.value().wait_for_huge_pages();
    EXPECT_EQ(p.huge_bytes, 0u);
    EXPECT_EQ(p.way, AnonMemory::Promotion::Way::kNone);
  }
  // Smaller than one huge page: nothing to collapse.
  for (auto pages : {AnonMemory::Pages::kHugeLater, AnonMemory::Pages::kHugeAuto}) {
    auto r = AnonMemory::allocate(kHuge - 4096, pages);
    ASSERT_TRUE(r.ok());
    fill(r.value().data(), r.value().size());
    r.value().promote_in_background();
    EXPECT_EQ(r.value().wait_for_huge_pages().way, AnonMemory::Promotion::Way::kNone);
    EXPECT_EQ(first_mismatch(r.value().data(), r.value().size()), r.value().size());
  }
  AnonMemory empty;
  empty.promote_in_background();
  EXPECT_EQ(empty.wait_for_huge_pages().huge_bytes, 0u);
}

}  // namespace
}  // namespace hearth::core
