#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/stream_copy.h"

namespace hearth::core {
namespace {

// Every size and alignment of source and destination copies exactly the bytes
// asked for: the unaligned ends, the streamed middle, nothing past the end.
TEST(StreamCopy, CopiesExactlyTheBytesAtAnyAlignment) {
  std::vector<uint8_t> src(600), dst(700);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 7 + 3);
  for (size_t src_off : {0, 1, 5, 16, 63}) {
    for (size_t dst_off : {0, 3, 8, 15, 64}) {
      for (size_t n : {0, 1, 15, 16, 17, 64, 100, 511, 512}) {
        std::fill(dst.begin(), dst.end(), uint8_t{0xEE});
        stream_copy(dst.data() + dst_off, src.data() + src_off, n);
        for (size_t i = 0; i < dst.size(); ++i) {
          const bool inside = i >= dst_off && i < dst_off + n;
          const uint8_t want = inside ? src[src_off + i - dst_off] : uint8_t{0xEE};
          ASSERT_EQ(dst[i], want) << "src+" << src_off << " dst+" << dst_off << " n=" << n << " byte " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace hearth::core
