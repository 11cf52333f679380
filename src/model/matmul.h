// y = x · Wᵀ for a batch of activation rows, with the activations quantized
// once per call to the weight type's vec_dot_type, and weight rows split across
// the thread pool. Uses the active kernel table.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "core/thread_pool.h"
#include "core/work_ranges.h"
#include "kernels/kernels.h"
#include "model/weight.h"

namespace hearth::model {

class MatMul {
 public:
  // x: [n_rows, w.n_in] float, y: [n_rows, w.n_out] float.
  void run(const Weight& w, const float* x, int64_t n_rows, float* y, core::ThreadPool& pool,
           const kernels::Kernels& k = kernels::active());

  // Several products of the same input (Q/K/V projections, FFN gate/up):
  // out.y = x · out.wᵀ for each. Interleaved weights with the same prepared
  // activations (one type, or Q4_K with Q6_K) and input size share one
  // quantized input and one parallel section; any other weight runs as run()
  // would.
  struct Output {
    const Weight* w;
    float* y;
  };
  void run_shared(std::span<const Output> outs, const float* x, int64_t n_rows, core::ThreadPool& pool,
                  const kernels::Kernels& k = kernels::active());
  // Most products run_shared puts in one parallel section.
  static constexpr size_t kMaxShared = 8;

 private:
  // y = x · Wᵀ without w's LoRA adapter.
  void run_base(const Weight& w, const float* x, int64_t n_rows, float* y, core::ThreadPool& pool,
                const kernels::Kernels& k);
  // Quantizes x to w's vec_dot_type into xq_.
  void quantize_input(const Weight& w, const float* x, int64_t n_rows, core::ThreadPool& pool,
                      const kernels::Kernels& k);
  // Interleaved (x16) weights sharing prepared activations (see run_shared)
  // and input size: prepares x (quantized in one pass by the kernels'
  // x16_act, else through xq_) and runs the products.
  void run_x16(std::span<const Output> outs, const float* x, int64_t n_rows, core::ThreadPool& pool,
               const kernels::Kernels& k);
  // Thread tid's part of the section described by section_.
  void run_section(int tid);
  void add_lora(const Weight& w, const float* x, int64_t n_rows, float* y, core::ThreadPool& pool, const kernels::Kernels& k);
  std::vector<uint8_t> xq_;  // quantized activations, reused across calls
  std::vector<kernels::PackedQ8Pair> xp_;  // the same, packed for matrix tiles
  struct alignas(64) Line {
    uint8_t b[64];
  };
  std::vector<Line> xa_;          // the same, prepared for interleaved (x16) weights
  std::vector<Line> xa_scratch_;  // run_x16: per thread, a row prepared before it is published to xa_
  std::vector<float> lora_t_, lora_u_;
  // run_x16's parallel section: all a thread reads to run its part, written
  // by the caller into adjacent lines before the section starts (through a
  // closure of references, a worker chased a dozen lines the caller had just
  // written, one miss after another, before its first weight byte).
  struct alignas(64) Section {
    struct Out {
      const uint8_t* w;    // interleaved groups
      size_t group_bytes;
      size_t n_groups;
      size_t block_end;    // cumulative block count up to this output
      float* y;
      int64_t n_out;       // y's row stride
      kernels::Kernels::GemmX16Fn gemm;
    };
    const uint8_t* xa;     // prepared activation rows
    size_t xa_row;
    int64_t n_in, n_rows;
    size_t block_groups;   // groups of 16 rows per block
    Out outs[kMaxShared];
  };
  Section section_;
  core::WorkRanges work_;  // run_x16: blocks handed out to the threads
};

// Generation (one activation row): names the product that follows the pool's
// next parallel job, so that after its part of that job each worker reads the
// start of its share of these weights into its cache (up to kWarmBytes; see
// core::ThreadPool::warm_after_next_job) while the caller works in between.
// A hint: weights without an interleaved (x16) layout are skipped.
void warm_next_product(core::ThreadPool& pool, std::initializer_list<const Weight*> next);
// Half of a Zen 4 core's L2: room for the share and the caller's buffers.
inline constexpr size_t kWarmBytes = size_t{512} << 10;

// The first bytes (at most cap) of thread t's share, among n_threads, of the
// interleaved weights ws run as one section for a few activation rows (the
// split of MatMul's work ranges): what that thread reads first. Empty when t
// has no share.
std::span<const uint8_t> first_share(std::span<const Weight* const> ws, int t, int n_threads, size_t cap);

// Dequantize row `r` of `w` into out[w.n_in].
void dequantize_row(const Weight& w, int64_t r, float* out);

}  // namespace hearth::model
