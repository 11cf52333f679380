// Copying a small buffer that another core will read next, without waiting
// for that core's stale copies.
//
// A plain store into a line another core holds (it read the previous
// contents) waits until that core has dropped its copy; a few dozen such
// lines written one after another cost microseconds when the cores sit in
// different core complexes (3.4 µs for one generation step's 2.3 KB of
// prepared activations on this VM kind, against 0.7 µs for the same work into
// a buffer no other core reads). Streaming (non-temporal) stores write the
// lines to memory without fetching them first, and the invalidation of other
// copies proceeds without the writing core waiting for it.
#pragma once

#include <cstddef>

namespace hearth::core {

// Copies bytes from src to dst (not overlapping) with non-temporal stores
// where the CPU has them (plain stores for the unaligned ends), then fences,
// so the data is visible to any thread that later synchronizes with this one.
// The destination's lines are left out of this core's caches.
void stream_copy(void* dst, const void* src, size_t bytes);

}  // namespace hearth::core
