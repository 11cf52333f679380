// y = x · Wᵀ for a batch of activation rows, with the activations quantized
// once per call to the weight type's vec_dot_type, and weight rows split across
// the thread pool. Uses the active kernel table.
#pragma once

#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/weight.h"

namespace hearth::model {

class MatMul {
 public:
  // x: [n_rows, w.n_in] float, y: [n_rows, w.n_out] float.
  void run(const Weight& w, const float* x, int64_t n_rows, float* y, core::ThreadPool& pool,
           const kernels::Kernels& k = kernels::active());

 private:
  // Weights interleaved 16 rows at a time (w.x16), with the activations
  // already quantized in xq_.
  void run_x16(const Weight& w, int64_t n_rows, float* y, core::ThreadPool& pool, const kernels::Kernels& k);
  void add_lora(const Weight& w, const float* x, int64_t n_rows, float* y, core::ThreadPool& pool, const kernels::Kernels& k);
  std::vector<uint8_t> xq_;  // quantized activations, reused across calls
  std::vector<kernels::PackedQ8Pair> xp_;  // the same, packed for matrix tiles
  std::vector<uint8_t> xa_;                // the same, prepared for interleaved (x16) weights
  std::vector<float> lora_t_, lora_u_;
};

// Dequantize row `r` of `w` into out[w.n_in].
void dequantize_row(const Weight& w, int64_t r, float* out);

}  // namespace hearth::model
