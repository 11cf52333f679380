// Measures this machine's memory read bandwidth (the ceiling for generation
// speed: each generated token reads every weight once).
#pragma once

#include <cstddef>

namespace hearth::kernels {

struct BandwidthResult {
  double gb_per_s = 0;  // best of the repetitions, 1e9 bytes per second
  size_t bytes = 0;     // buffer size read per repetition
  int threads = 0;
};

// Reads a buffer of `bytes` (much larger than the caches) `reps` times with
// `threads` threads.
BandwidthResult measure_read_bandwidth(size_t bytes, int threads, int reps);

}  // namespace hearth::kernels
