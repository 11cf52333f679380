// Kernel micro-benchmarks: matrix-vector (one activation row) and
// matrix-matrix (32 rows) products per tensor type, attention (decode,
// prompt, BERT) and the row operations, for the active ISA beside the scalar
// reference.
//   build/release/bench/kernels_bench [--benchmark_filter=Q4_0]
// GB/s counts weight bytes streamed; items/s counts multiply-adds. Entries
// ending in _x16 use weights interleaved 16 rows at a time, as models repack them.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "core/anon_memory.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/attention.h"
#include "model/matmul.h"
#include "tensor/float_math.h"
#include "tensor/interleave.h"
#include "tensor/kv_layout.h"
#include "tensor/type_ops.h"

namespace {

using namespace hearth;

struct Fixture {
  model::Weight w;
  std::vector<uint8_t> data;
  std::vector<float> x;
  core::AnonMemory x16;  // huge pages, as the model's repacked weights
  // Interleaves the weight 16 rows at a time, as models do at load.
  void interleave() {
    const size_t gb = tensor::x16_group_bytes(w.type, w.n_in);
    x16 = std::move(core::AnonMemory::allocate(static_cast<size_t>(w.n_out / tensor::kX16Rows) * gb).value());
    for (int64_t r = 0; r + tensor::kX16Rows <= w.n_out; r += tensor::kX16Rows)
      tensor::x16_pack(w.type, w.row(r), w.row_bytes, w.n_in, x16.data() + static_cast<size_t>(r / tensor::kX16Rows) * gb);
    w.x16 = x16.data();
    w.x16_rows = w.n_out / tensor::kX16Rows * tensor::kX16Rows;
    w.x16_group_bytes = gb;
  }
  Fixture(DType t, int64_t n_in, int64_t n_out, int64_t rows) {
    std::mt19937 rng(1);
    std::normal_distribution<float> d;
    std::vector<float> f(static_cast<size_t>(n_in));
    size_t rb = row_bytes(t, n_in);
    data.resize(rb * static_cast<size_t>(n_out));
    for (int64_t r = 0; r < n_out; ++r) {
      for (auto& v : f) v = d(rng);
      tensor::type_ops(t).from_float(f.data(), data.data() + r * rb, n_in);
    }
    w = {.name = "w", .type = t, .n_in = n_in, .n_out = n_out, .data = data.data(), .row_bytes = rb};
    x.resize(static_cast<size_t>(n_in * rows));
    for (auto& v : x) v = d(rng);
  }
};

void matmul(benchmark::State& state, DType t, core::Isa isa, int64_t rows, bool x16 = false, int64_t n_out = 2048) {
  const kernels::Kernels& k = kernels::for_isa(isa);
  if (k.isa != isa) {
    state.SkipWithError("ISA not available on this CPU");
    return;
  }
  Fixture f(t, 2048, n_out, rows);
  if (x16) {
    if (!k.gemm_x16[static_cast<int>(t)]) {
      state.SkipWithError("no interleaved kernel for this type and ISA");
      return;
    }
    f.interleave();
  }
  std::vector<float> y(static_cast<size_t>(n_out * rows));
  core::ThreadPool pool(1);
  model::MatMul mm;
  for (auto _ : state) {
    mm.run(f.w, f.x.data(), rows, y.data(), pool, k);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.data.size()));
  state.SetItemsProcessed(state.iterations() * 2048 * n_out * rows);
}

// A KV cache in the model's layout (KvCache): per KV head, keys in
// 16-position blocks and value rows, filled with random values.
struct AttentionCache {
  size_t head_bytes, row;
  std::vector<uint8_t> k, v;
  AttentionCache(tensor::KvType type, int64_t hd, int64_t kv_heads, int64_t n_ctx)
      : head_bytes(tensor::kv_head_bytes(type, hd, n_ctx)), row(tensor::kv_row_bytes(type, hd)) {
    k.resize(head_bytes * kv_heads);
    v.resize(k.size());
    std::mt19937 rng(5);
    std::normal_distribution<float> nd;
    std::vector<float> x(static_cast<size_t>(hd));
    std::vector<uint16_t> halves(static_cast<size_t>(hd));
    std::vector<tensor::BlockQ8_0> blocks(static_cast<size_t>(hd / tensor::kQK));
    for (int64_t h = 0; h < kv_heads; ++h)
      for (int64_t j = 0; j < n_ctx; ++j)
        for (int kv = 0; kv < 2; ++kv) {
          for (float& f : x) f = nd(rng);
          uint8_t* head = (kv ? v.data() : k.data()) + h * head_bytes;
          if (type == tensor::KvType::kQ8_0) {
            tensor::quantize_q8_0(x.data(), blocks.data(), hd);
            if (kv)
              std::memcpy(head + j * row, blocks.data(), row);
            else
              tensor::store_k_q8(hd, blocks.data(), j, head);
          } else {
            tensor::float_to_f16(x.data(), halves.data(), hd);
            if (kv)
              std::memcpy(head + j * row, halves.data(), row);
            else
              tensor::store_k(hd, halves.data(), j, reinterpret_cast<uint16_t*>(head));
          }
        }
  }
};

// One decode token of a TinyLlama-shaped layer (32 heads over 4 KV heads of
// 64) at a context of state.range(0) positions.
void attention(benchmark::State& state, core::Isa isa, tensor::KvType type) {
  const kernels::Kernels& k = kernels::for_isa(isa);
  const int64_t n_ctx = state.range(0), hd = 64, heads = 32, kv_heads = 4;
  AttentionCache cache(type, hd, kv_heads, n_ctx);
  std::vector<float> q(static_cast<size_t>(heads * hd), 0.1f), out(q.size());
  std::vector<float> scratch;
  core::ThreadPool pool(1);
  model::AttentionQuery query{q.data(), out.data(), cache.k.data(), cache.v.data(), n_ctx, cache.head_bytes, cache.row, type};
  for (auto _ : state) {
    model::attention({heads, kv_heads, hd}, std::span<const model::AttentionQuery>(&query, 1), pool, scratch, k);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * n_ctx * heads * hd * 2);
}

// A prompt batch of state.range(0) tokens, one thread: causal over a
// TinyLlama-shaped layer (32 heads over 4 KV heads of 64; the batch is the
// prompt's last tokens at a context of state.range(1)), or bidirectional
// over a BERT-shaped one (12 heads of 64, each its own KV head; every token
// sees the whole input, as BertModel does). Items: multiply-adds (scores
// and mix).
void attention_prompt(benchmark::State& state, core::Isa isa, bool bert) {
  const kernels::Kernels& k = kernels::for_isa(isa);
  const int64_t n_q = state.range(0), n_ctx = std::max(n_q, state.range(1)), hd = 64;
  const int64_t heads = bert ? 12 : 32, kv_heads = bert ? 12 : 4;
  const tensor::KvType type = tensor::KvType::kF16;
  AttentionCache cache(type, hd, kv_heads, n_ctx);
  std::vector<float> q(static_cast<size_t>(n_q * heads * hd)), out(q.size());
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 0.3f);
  for (float& f : q) f = nd(rng);
  std::vector<model::AttentionQuery> queries;
  int64_t products = 0;
  for (int64_t i = 0; i < n_q; ++i) {
    const int64_t n_kv = bert ? n_ctx : n_ctx - n_q + i + 1;
    queries.push_back({q.data() + i * heads * hd, out.data() + i * heads * hd, cache.k.data(), cache.v.data(), n_kv,
                       cache.head_bytes, cache.row, type});
    products += n_kv * heads * hd * 2;
  }
  std::vector<float> scratch;
  core::ThreadPool pool(1);
  for (auto _ : state) {
    model::attention({heads, kv_heads, hd}, queries, pool, scratch, k);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * products);
}

// Preparing one activation row for the interleaved products: the kernels'
// fused quantize + prepare (x16_act) against the quantizer followed by
// tensor::x16_prepare_act. Bytes: the float row read.
void x16_act(benchmark::State& state, DType t, bool fused) {
  const kernels::Kernels& k = kernels::active();
  const int64_t n = state.range(0);
  std::vector<float> x(static_cast<size_t>(n));
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  for (auto& v : x) v = nd(rng);
  const DType act = tensor::type_ops(t).vec_dot_type;
  std::vector<uint8_t> xq(row_bytes(act, n)), xa(tensor::x16_act_bytes(t, n));
  const kernels::Kernels::X16ActFn f = k.x16_act[static_cast<int>(t)];
  if (fused && !f) {
    state.SkipWithError("no fused preparation for this type and ISA");
    return;
  }
  for (auto _ : state) {
    if (fused) {
      f(x.data(), n, xa.data());
    } else {
      k.quantize(act)(x.data(), xq.data(), n);
      tensor::x16_prepare_act(t, xq.data(), n, xa.data());
    }
    benchmark::DoNotOptimize(xa.data());
  }
  state.SetBytesProcessed(state.iterations() * n * static_cast<int64_t>(sizeof(float)));
}

// The per-token row operations of the forward pass on one row of n floats
// (n = 2048: the benchmark model's width; 5632: its FFN width), scalar
// reference beside each ISA's table. Bytes: the floats read and written.
enum class RowOp { kRmsNorm, kSoftmax, kSiluMul, kRope, kAdd };

void row_op(benchmark::State& state, RowOp op, core::Isa isa) {
  const kernels::Kernels& k = kernels::for_isa(isa);
  const int64_t n = state.range(0);
  std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n)), y(static_cast<size_t>(n)), cs(64);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  for (auto& v : a) v = nd(rng);
  for (auto& v : b) v = nd(rng);
  tensor::rope_table(64, 123, 10000.f, cs.data());
  int64_t bytes = 0;
  for (auto _ : state) {
    switch (op) {
      case RowOp::kRmsNorm:  // reads x and the weights, writes out
        k.rms_norm(a.data(), b.data(), y.data(), n, 1e-5f);
        bytes = 3 * n;
        break;
      case RowOp::kSoftmax:  // in place (after the first call the row is a distribution: same work)
        k.softmax(a.data(), n);
        bytes = 2 * n;
        break;
      case RowOp::kSiluMul:  // out = silu(a) · b (as the forward pass runs it, out of place)
        k.silu_mul(n, a.data(), b.data(), y.data());
        bytes = 3 * n;
        break;
      case RowOp::kRope:  // every head of 64 in place (the values grow no further: a rotation)
        for (int64_t h = 0; h + 64 <= n; h += 64) k.rope(a.data() + h, 64, cs.data(), false);
        bytes = 2 * n;
        break;
      case RowOp::kAdd:  // y += x
        k.add(n, y.data(), b.data());
        bytes = 3 * n;
        break;
    }
    benchmark::DoNotOptimize(a.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * bytes * static_cast<int64_t>(sizeof(float)));
}

void register_all() {
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1,
                  DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    for (auto [isa, name] : {std::pair{core::Isa::kScalar, "scalar"}, {core::Isa::kAvx2, "avx2"}, {core::Isa::kAvx512, "avx512"}}) {
      for (int64_t rows : {1, 32}) {
        std::string n = std::string(rows == 1 ? "matvec/" : "matmul32/") + dtype_name(t) + "/" + name;
        benchmark::RegisterBenchmark(n.c_str(), [t, isa = isa, rows](benchmark::State& s) { matmul(s, t, isa, rows); })
            ->Unit(benchmark::kMicrosecond);
        if (isa != core::Isa::kScalar && tensor::x16_supported(t))
          benchmark::RegisterBenchmark((n + "_x16").c_str(),
                                       [t, isa = isa, rows](benchmark::State& s) { matmul(s, t, isa, rows, true); })
              ->Unit(benchmark::kMicrosecond);
      }
    }
  }
  // Out of cache: 64 Ki rows (72-136 MiB), one thread, as generation streams
  // the weights from memory; compare with `hearth bench --memory -t 1`.
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K})
    for (auto [isa, name] : {std::pair{core::Isa::kAvx2, "avx2"}, {core::Isa::kAvx512, "avx512"}})
      for (bool x16 : {false, true})
        benchmark::RegisterBenchmark((std::string("matvec_dram/") + dtype_name(t) + "/" + name + (x16 ? "_x16" : "")).c_str(),
                                     [t, isa = isa, x16](benchmark::State& s) { matmul(s, t, isa, 1, x16, 65536); })
            ->Unit(benchmark::kMicrosecond);
  for (auto [isa, name] : {std::pair{core::Isa::kScalar, "scalar"}, {core::Isa::kAvx2, "avx2"}, {core::Isa::kAvx512, "best"}})
    for (tensor::KvType type : {tensor::KvType::kF16, tensor::KvType::kQ8_0})
      benchmark::RegisterBenchmark(
          (std::string("attention_decode/") + name + (type == tensor::KvType::kQ8_0 ? "/q8_0" : "")).c_str(),
          [isa = isa, type](benchmark::State& s) { attention(s, isa, type); })
          ->Arg(512)->Arg(2048)->Unit(benchmark::kMicrosecond);
  for (auto [isa, name] : {std::pair{core::Isa::kScalar, "scalar"}, {core::Isa::kAvx2, "avx2"}, {core::Isa::kAvx512, "best"}}) {
    benchmark::RegisterBenchmark((std::string("attention_prompt/") + name).c_str(),
                                 [isa = isa](benchmark::State& s) { attention_prompt(s, isa, false); })
        ->Args({128, 128})->Args({128, 1024})->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((std::string("attention_bert/") + name).c_str(),
                                 [isa = isa](benchmark::State& s) { attention_prompt(s, isa, true); })
        ->Args({256, 256})->Unit(benchmark::kMillisecond);
  }
  for (DType t : {DType::kQ4_0, DType::kQ4_K})
    for (bool fused : {false, true})
      benchmark::RegisterBenchmark((std::string("x16_act/") + dtype_name(t) + (fused ? "/fused" : "/two_step")).c_str(),
                                   [t, fused](benchmark::State& s) { x16_act(s, t, fused); })
          ->Arg(2048)->Arg(5632);
  for (auto [op, op_name] : {std::pair{RowOp::kRmsNorm, "rms_norm"}, {RowOp::kSoftmax, "softmax"},
                             {RowOp::kSiluMul, "silu_mul"}, {RowOp::kRope, "rope"}, {RowOp::kAdd, "add"}})
    for (auto [isa, name] : {std::pair{core::Isa::kScalar, "scalar"}, {core::Isa::kAvx2, "avx2"}, {core::Isa::kAvx512, "avx512"}})
      benchmark::RegisterBenchmark((std::string(op_name) + "/" + name).c_str(),
                                   [op = op, isa = isa](benchmark::State& s) { row_op(s, op, isa); })
          ->Arg(2048)->Arg(5632);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
