// Where the time of Model::forward goes, by phase (`hearth bench --profile`):
// wall time of the calling thread from one phase boundary to the next, the
// weight bytes each matrix-product phase reads and the multiply-adds of the
// products and of attention. Off (one null check per
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
  std::array<double, kCount> macs{};   // multiply-adds (products and attention)
  int64_t calls = 0;                   // forward passes profiled
  int64_t tokens = 0;                  // tokens in those passes
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
  void lap(ForwardProfile::Phase phase, double bytes = 0, double macs = 0) {
    if (!p_) return;
    const auto now = std::chrono::steady_clock::now();
    p_->seconds[phase] += std::chrono::duration<double>(now - t_).count();
    p_->bytes[phase] += bytes;
    p_->macs[phase] += macs;
    t_ = now;
  }

 private:
  ForwardProfile* p_;
  std::chrono::steady_clock::time_point t_;
};

}  // namespace hearth::model
