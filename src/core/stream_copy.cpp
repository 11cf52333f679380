#include "core/stream_copy.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <emmintrin.h>
#endif

namespace hearth::core {

void stream_copy(void* dst, const void* src, size_t bytes) {
#if defined(__x86_64__) || defined(__i386__)
  auto* d = static_cast<uint8_t*>(dst);
  const auto* s = static_cast<const uint8_t*>(src);
  // SSE2 (every x86-64 CPU): 16-byte streaming stores need a 16-byte aligned
  // destination.
  const size_t head = std::min(bytes, (16 - reinterpret_cast<uintptr_t>(d) % 16) % 16);
  std::memcpy(d, s, head);
  d += head;
  s += head;
  bytes -= head;
  for (; bytes >= 16; bytes -= 16, d += 16, s += 16)
    _mm_stream_si128(reinterpret_cast<__m128i*>(d), _mm_loadu_si128(reinterpret_cast<const __m128i*>(s)));
  std::memcpy(d, s, bytes);
  _mm_sfence();  // streaming stores are weakly ordered
#else
  std::memcpy(dst, src, bytes);
#endif
}

}  // namespace hearth::core
