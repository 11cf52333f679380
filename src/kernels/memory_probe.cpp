#include "kernels/memory_probe.h"

#include <immintrin.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/anon_memory.h"
#include "core/thread_pool.h"

namespace hearth::kernels {

// Sums 64-byte lines with 4 independent vector accumulators so the loads, not
// the adds, are the bottleneck.
uint64_t read_stream(const uint8_t* p, size_t n) {
#if defined(__AVX512F__)
  // A plain AVX-512 read loop, as the anchor figures were measured.
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 256 <= n; i += 256) {
    a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_load_si512(p + i + 64));
    a2 = _mm512_add_epi64(a2, _mm512_load_si512(p + i + 128));
    a3 = _mm512_add_epi64(a3, _mm512_load_si512(p + i + 192));
  }
  // Stored and summed (GCC 12's _mm512_reduce_add_epi64 warns -Wuninitialized
  // from inside its own header).
  uint64_t out[8];
  _mm512_storeu_si512(out, _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
  uint64_t s = 0;
  for (uint64_t v : out) s += v;
  return s;
#elif defined(__AVX2__)
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  uint64_t out[4];
  std::memcpy(out, &s, 32);
  return out[0] + out[1] + out[2] + out[3];
#else
  uint64_t s = 0;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    s += v;
  }
  return s;
#endif
}

struct ReadProbe::Impl {
  explicit Impl(int threads) : pool(threads) {}
  core::ThreadPool pool;
  core::AnonMemory mem;  // huge pages advised, as for repacked weights
  uint8_t* buf = nullptr;
};

ReadProbe::ReadProbe(size_t bytes, int threads) : impl_(new Impl(threads)), bytes_(bytes / (1 << 20) * (1 << 20)) {
  auto mem = core::AnonMemory::allocate(bytes_);
  if (!mem.ok() || bytes_ == 0) {
    bytes_ = 0;
    return;
  }
  impl_->mem = std::move(mem.value());
  impl_->buf = impl_->mem.data();
  // Touch every page from the thread that will read it (first-touch placement).
  const size_t chunk = 1 << 20;
  uint8_t* buf = impl_->buf;
  impl_->pool.parallel_for(bytes_ / chunk, [&](size_t b, size_t e, int) { std::memset(buf + b * chunk, 1, (e - b) * chunk); });
}

ReadProbe::~ReadProbe() { delete impl_; }

double ReadProbe::measure(int reps) {
  if (bytes_ == 0) return 0;
  const size_t chunk = 1 << 20;
  const uint8_t* buf = impl_->buf;
  volatile uint64_t sink = 0;
  double best = 0;
  for (int rep = 0; rep < reps; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    impl_->pool.parallel_for(bytes_ / chunk, [&](size_t b, size_t e, int) { sink = sink + read_stream(buf + b * chunk, (e - b) * chunk); });
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(bytes_) / s / 1e9);
  }
  return best;
}

BandwidthResult measure_read_bandwidth(size_t bytes, int threads, int reps) {
  ReadProbe probe(bytes, threads);
  BandwidthResult r;
  r.bytes = probe.bytes();
  r.threads = threads;
  r.gb_per_s = probe.measure(reps);
  return r;
}

}  // namespace hearth::kernels
