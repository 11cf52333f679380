// core::MappedFile when its file shrinks underneath: the lost pages read as
// zeros and the mapping says so, instead of SIGBUS ending the process; a
// fault anywhere else still ends it.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "core/mapped_file.h"

namespace hearth::core {
namespace {

constexpr size_t kPage = 4096;

std::string write_file(const std::string& name, size_t size, uint8_t fill) {
  const std::string path = testing::TempDir() + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  std::vector<uint8_t> bytes(size, fill);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  return path;
}

TEST(MappedFile, PagesLostToATruncationReadAsZeros) {
  const std::string a = write_file("mapped_a.bin", 8 * kPage, 7), b = write_file("mapped_b.bin", 8 * kPage, 9);
  auto ma = MappedFile::open(a), mb = MappedFile::open(b);
  ASSERT_TRUE(ma.ok() && mb.ok());
  const volatile uint8_t* pa = ma->data();
  EXPECT_EQ(pa[5 * kPage], 7);
  EXPECT_FALSE(ma->contents_lost());
  ASSERT_EQ(truncate(a.c_str(), 2 * kPage), 0);  // as `cp other a` begins, or `: > a`
  EXPECT_EQ(pa[kPage], 7);                       // still in the file
  EXPECT_EQ(pa[5 * kPage + 3], 0);               // past its end: zeros, not SIGBUS
  EXPECT_EQ(pa[3 * kPage], 0);                   // (a lower page past the end, after a higher one)
  EXPECT_EQ(pa[8 * kPage - 1], 0);
  EXPECT_TRUE(ma->contents_lost());
  EXPECT_FALSE(mb->contents_lost());  // the other mapping is untouched
  EXPECT_EQ(mb->data()[6 * kPage], 9);
  // A moved-from and a reopened mapping keep their own state.
  MappedFile moved = std::move(ma.value());
  EXPECT_TRUE(moved.contents_lost());
  auto again = MappedFile::open(a);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->size(), 2 * kPage);
  EXPECT_FALSE(again->contents_lost());
  std::remove(a.c_str());
  std::remove(b.c_str());
}

TEST(MappedFileDeathTest, OtherBusErrorsStillEndTheProcess) {
  const std::string c = write_file("mapped_c.bin", 4 * kPage, 1);
  auto guarded = MappedFile::open(c);  // installs the handler
  ASSERT_TRUE(guarded.ok());
  EXPECT_DEATH(
      {
        // A mapping of its own, not a MappedFile: its lost page is a real SIGBUS.
        const std::string d = write_file("mapped_d.bin", 4 * kPage, 1);
        int fd = open(d.c_str(), O_RDONLY);
        auto* p = static_cast<const volatile uint8_t*>(mmap(nullptr, 4 * kPage, PROT_READ, MAP_PRIVATE, fd, 0));
        if (truncate(d.c_str(), 0) != 0) std::abort();
        std::fprintf(stderr, "read %d\n", p[2 * kPage]);
      },
      "");
  std::remove(c.c_str());
}

}  // namespace
}  // namespace hearth::core
