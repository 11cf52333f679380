// Where the time of Model::forward goes, by phase (`hearth bench --profile`):
// wall time of the calling thread from one phase boundary to the next, and
// the weight bytes each matrix-product phase reads. Off (one null check per
// boundary) unless a Workspace carries a profile.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace hearth::model {

struct ForwardProfile {
  enum Phase { kRowOps, kQkv, kAttention, kAttnOut, kFfnUp, kFfnDown, kOutput, kCount };
  static constexpr std::array<const char*, kCount> kNames = {
      "row ops (norms, RoPE, KV store, residual, SiLU)", "Q/K/V products", "attention", "attention output product",
      "FFN gate/up products", "FFN down product", "output (LM head) product"};
  std::array<double, kCount> seconds{};
  std::array<double, kCount> bytes{};  // weight bytes read (products only)
  int64_t calls = 0;                   // forward passes profiled
};

// Charges the time since the previous boundary to a phase.
class PhaseClock {
 public:
  explicit PhaseClock(ForwardProfile* p) : p_(p) {
    if (p_) {
      ++p_->calls;
      t_ = std::chrono::steady_clock::now();
    }
  }
  void lap(ForwardProfile::Phase phase, double bytes = 0) {
    if (!p_) return;
    const auto now = std::chrono::steady_clock::now();
    p_->seconds[phase] += std::chrono::duration<double>(now - t_).count();
    p_->bytes[phase] += bytes;
    t_ = now;
  }

 private:
  ForwardProfile* p_;
  std::chrono::steady_clock::time_point t_;
};

}  // namespace hearth::model
