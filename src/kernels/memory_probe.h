// Measures this machine's memory read bandwidth (the ceiling for generation
// speed: each generated token reads every weight once).
#pragma once

#include <cstddef>
#include <cstdint>

namespace hearth::kernels {

struct BandwidthResult {
  double gb_per_s = 0;  // best of the repetitions, 1e9 bytes per second
  size_t bytes = 0;     // buffer size read per repetition
  int threads = 0;
};

// The probe's read loop: reads n bytes (a multiple of 256, 64-byte aligned)
// from p and returns a checksum.
uint64_t read_stream(const uint8_t* p, size_t n);

// Reads a buffer of `bytes` (much larger than the caches) `reps` times with
// `threads` threads.
BandwidthResult measure_read_bandwidth(size_t bytes, int threads, int reps);

// A reusable probe: the buffer is allocated and first-touched (by the thread
// that will read each part) once, so it can sample the bandwidth repeatedly,
// e.g. in the pauses of a generation run on a host whose bandwidth drifts.
class ReadProbe {
 public:
  ReadProbe(size_t bytes, int threads);
  ~ReadProbe();
  ReadProbe(const ReadProbe&) = delete;
  ReadProbe& operator=(const ReadProbe&) = delete;
  // Best GB/s (1e9 bytes/s) of `reps` passes over the buffer; 0 if the buffer
  // could not be allocated.
  double measure(int reps);
  size_t bytes() const { return bytes_; }

 private:
  struct Impl;
  Impl* impl_;
  size_t bytes_;
};

}  // namespace hearth::kernels
