// Streaming figures for generation, where each token reads every weight once:
//   stream/read/T     the bandwidth probe's read loop over a 512 MiB region
//   stream/TYPE/T     the active ISA's interleaved (x16) kernel over the same
//                     amount of weights as one product: each thread streams
//                     one contiguous half, one parallel section per pass
//   token/TYPE/T      the benchmark model's products (../shared/docs/anchors.md
//                     shape, every matrix in TYPE) in the order of one
//                     generated token through model::MatMul, as the forward
//                     pass runs them: 22 layers of Q/K/V, attention output,
//                     FFN gate/up and down, then the LM head (89 parallel
//                     sections), without the row operations and attention
//   sections/Q4_0/KIB 512 MiB of Q4_0 weights run as products of KIB KiB
//                     each through model::MatMul on 2 threads (the model's
//                     sizes, 0.5 MiB and the whole region): the fixed cost of
//                     a product (us_per_product beside its bytes)
// T = threads. GB/s counts weight bytes read. stream/TYPE against stream/read
// is the kernel's own streaming rate; token/TYPE against stream/TYPE is what
// splitting a token into sections costs (activation preparation, hand-offs,
// threads finishing apart, each section's stream starting cold). Run the
// entries to compare one after another; on a host whose bandwidth drifts,
// repeat (--benchmark_repetitions) and compare medians.
//   build/release/bench/stream_bench [--benchmark_filter=Q4_0]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/anon_memory.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "kernels/memory_probe.h"
#include "model/matmul.h"
#include "tensor/interleave.h"
#include "tensor/type_ops.h"

namespace {

using namespace hearth;

constexpr size_t kStreamBytes = size_t(512) << 20;

// `groups` groups of 16 rows of n_in random weights, quantized to t and
// interleaved: a pattern to tile large regions with (speed does not depend on
// the values, but realistic scales keep the float math free of NaNs).
std::vector<uint8_t> packed_groups(DType t, int64_t n_in, int groups) {
  const size_t rb = row_bytes(t, n_in), gb = tensor::x16_group_bytes(t, n_in);
  std::vector<uint8_t> rows(rb * tensor::kX16Rows), out(gb * static_cast<size_t>(groups));
  std::vector<float> f(static_cast<size_t>(n_in));
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 0.02f);
  for (int g = 0; g < groups; ++g) {
    for (int r = 0; r < tensor::kX16Rows; ++r) {
      for (auto& v : f) v = nd(rng);
      tensor::type_ops(t).from_float(f.data(), rows.data() + rb * static_cast<size_t>(r), n_in);
    }
    tensor::x16_pack(t, rows.data(), rb, n_in, out.data() + gb * static_cast<size_t>(g));
  }
  return out;
}

// Fills [dst, dst + bytes) with copies of `pattern` (bytes: a multiple of its group size).
void tile(uint8_t* dst, size_t bytes, const std::vector<uint8_t>& pattern) {
  for (size_t off = 0; off < bytes; off += pattern.size())
    std::memcpy(dst + off, pattern.data(), std::min(pattern.size(), bytes - off));
}

// One activation row prepared for t's interleaved kernels.
std::vector<uint8_t> prepared_activation(const kernels::Kernels& k, DType t, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  for (auto& v : x) v = nd(rng);
  std::vector<uint8_t> xa(tensor::x16_act_bytes(t, n));
  if (const auto fused = k.x16_act[static_cast<int>(t)]) {
    fused(x.data(), n, xa.data());
  } else {
    std::vector<uint8_t> xq(row_bytes(tensor::type_ops(t).vec_dot_type, n));
    k.quantize(tensor::type_ops(t).vec_dot_type)(x.data(), xq.data(), n);
    tensor::x16_prepare_act(t, xq.data(), n, xa.data());
  }
  return xa;
}

// stream/read (read = true) or stream/TYPE.
void stream(benchmark::State& state, DType t, bool read) {
  const kernels::Kernels& k = kernels::active();
  const int threads = static_cast<int>(state.range(0));
  if (!read && !k.gemm_x16[static_cast<int>(t)]) {
    state.SkipWithError("no interleaved kernel for this type and ISA");
    return;
  }
  constexpr int64_t n = 2048;
  const size_t gb = tensor::x16_group_bytes(t, n);
  const size_t groups = kStreamBytes / gb, bytes = groups * gb;
  auto mem = core::AnonMemory::allocate(bytes);
  if (!mem.ok()) {
    state.SkipWithError("could not allocate the region");
    return;
  }
  uint8_t* w = mem.value().data();
  if (read)
    std::memset(w, 1, bytes);
  else
    tile(w, bytes, packed_groups(t, n, 64));
  const std::vector<uint8_t> xa = read ? std::vector<uint8_t>() : prepared_activation(k, t, n);
  std::vector<float> y(groups * tensor::kX16Rows);
  core::ThreadPool pool(threads);
  std::vector<uint64_t> sums(static_cast<size_t>(threads));  // every thread's checksum kept
  for (auto _ : state) {
    pool.parallel_for(static_cast<size_t>(threads), [&](size_t, size_t, int tid) {
      const size_t g0 = groups * static_cast<size_t>(tid) / static_cast<size_t>(threads);
      const size_t g1 = groups * static_cast<size_t>(tid + 1) / static_cast<size_t>(threads);
      if (read) {  // whole 256-byte steps of this thread's half
        const size_t b0 = (g0 * gb + 255) / 256 * 256, b1 = g1 * gb / 256 * 256;
        sums[static_cast<size_t>(tid)] += kernels::read_stream(w + b0, b1 - b0);
      } else {
        k.gemm_x16[static_cast<int>(t)](n, w + g0 * gb, gb, static_cast<int>(g1 - g0), xa.data(), 0, 1,
                                        y.data() + g0 * tensor::kX16Rows, 0);
      }
    });
    benchmark::DoNotOptimize(sums.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

// A weight of type t whose rows are all interleaved at x16 (the GGUF-layout
// rows are never read).
model::Weight interleaved_weight(std::string name, DType t, int64_t n_in, int64_t n_out, const uint8_t* x16) {
  model::Weight w;
  w.name = std::move(name);
  w.type = t;
  w.n_in = n_in;
  w.n_out = n_out;
  w.row_bytes = row_bytes(t, n_in);
  w.x16_group_bytes = tensor::x16_group_bytes(t, n_in);
  w.x16_rows = n_out;
  w.x16 = x16;
  w.data = x16;
  return w;
}

// token/TYPE: the products of one generated token of the benchmark model.
void token(benchmark::State& state, DType t) {
  const kernels::Kernels& k = kernels::active();
  const int threads = static_cast<int>(state.range(0));
  if (!k.gemm_x16[static_cast<int>(t)]) {
    state.SkipWithError("no interleaved kernel for this type and ISA");
    return;
  }
  constexpr int64_t kDim = 2048, kKv = 256, kFf = 5632, kVocab = 32000, kLayers = 22;
  struct Shape {
    int64_t n_in, n_out;
  };
  std::vector<Shape> shapes;
  for (int64_t l = 0; l < kLayers; ++l)
    for (Shape s : {Shape{kDim, kDim}, {kDim, kKv}, {kDim, kKv}, {kDim, kDim}, {kDim, kFf}, {kDim, kFf}, {kFf, kDim}})
      shapes.push_back(s);
  shapes.push_back({kDim, kVocab});
  size_t total = 0;
  for (const Shape& s : shapes) total += static_cast<size_t>(s.n_out / tensor::kX16Rows) * tensor::x16_group_bytes(t, s.n_in);
  auto mem = core::AnonMemory::allocate(total);
  if (!mem.ok()) {
    state.SkipWithError("could not allocate the weights");
    return;
  }
  uint8_t* base = mem.value().data();
  const std::vector<uint8_t> pattern_dim = packed_groups(t, kDim, 16), pattern_ff = packed_groups(t, kFf, 16);
  std::vector<model::Weight> ws(shapes.size());
  size_t off = 0;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const model::Weight& w = ws[i] = interleaved_weight("w" + std::to_string(i), t, shapes[i].n_in, shapes[i].n_out, base + off);
    const size_t bytes = static_cast<size_t>(w.n_out / tensor::kX16Rows) * w.x16_group_bytes;
    tile(base + off, bytes, w.n_in == kFf ? pattern_ff : pattern_dim);
    off += bytes;
  }
  std::vector<float> x(kFf), q(kDim), kk(kKv), v(kKv), h(kDim), gate(kFf), up(kFf), logits(kVocab);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  for (auto& e : x) e = nd(rng);
  core::ThreadPool pool(threads);
  model::MatMul mm;
  for (auto _ : state) {
    for (int64_t l = 0; l < kLayers; ++l) {
      const model::Weight* L = &ws[static_cast<size_t>(7 * l)];
      const model::MatMul::Output qkv[] = {{&L[0], q.data()}, {&L[1], kk.data()}, {&L[2], v.data()}};
      mm.run_shared(qkv, x.data(), 1, pool, k);
      mm.run(L[3], x.data(), 1, h.data(), pool, k);
      const model::MatMul::Output gate_up[] = {{&L[4], gate.data()}, {&L[5], up.data()}};
      mm.run_shared(gate_up, x.data(), 1, pool, k);
      mm.run(L[6], x.data(), 1, h.data(), pool, k);
    }
    mm.run(ws.back(), x.data(), 1, logits.data(), pool, k);
    benchmark::DoNotOptimize(logits.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total));
}

// sections/TYPE/KIB: 512 MiB of weights with 2048 inputs, run as products of
// KIB KiB each through MatMul on 2 threads, one after another with the same
// input (activation preparation and hand-offs per product, no row
// operations): what a product costs beyond its bytes, by size.
void sections(benchmark::State& state, DType t) {
  const kernels::Kernels& k = kernels::active();
  if (!k.gemm_x16[static_cast<int>(t)]) {
    state.SkipWithError("no interleaved kernel for this type and ISA");
    return;
  }
  constexpr int64_t kIn = 2048;
  const size_t gb = tensor::x16_group_bytes(t, kIn);
  const size_t per = std::max<size_t>(1, static_cast<size_t>(state.range(0)) * 1024 / gb);  // groups per product
  const size_t n_w = kStreamBytes / (per * gb), total = n_w * per * gb;
  auto mem = core::AnonMemory::allocate(total);
  if (!mem.ok()) {
    state.SkipWithError("could not allocate the weights");
    return;
  }
  uint8_t* base = mem.value().data();
  tile(base, total, packed_groups(t, kIn, 16));
  std::vector<model::Weight> ws(n_w);
  for (size_t i = 0; i < n_w; ++i)
    ws[i] = interleaved_weight("w" + std::to_string(i), t, kIn, static_cast<int64_t>(per) * tensor::kX16Rows, base + i * per * gb);
  std::vector<float> x(kIn), y(per * tensor::kX16Rows);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  for (auto& e : x) e = nd(rng);
  core::ThreadPool pool(2);
  model::MatMul mm;
  for (auto _ : state) {
    for (const model::Weight& w : ws) mm.run(w, x.data(), 1, y.data(), pool, k);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total));
  state.counters["us_per_product"] =
      benchmark::Counter(static_cast<double>(state.iterations() * n_w), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void register_all() {
  benchmark::RegisterBenchmark("stream/read", [](benchmark::State& s) { stream(s, DType::kF32, true); })
      ->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
  for (DType t : {DType::kQ4_0, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K})
    benchmark::RegisterBenchmark((std::string("stream/") + dtype_name(t)).c_str(),
                                 [t](benchmark::State& s) { stream(s, t, false); })
        ->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
  for (DType t : {DType::kQ4_0, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K})
    benchmark::RegisterBenchmark((std::string("token/") + dtype_name(t)).c_str(), [t](benchmark::State& s) { token(s, t); })
        ->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
  // The model's product sizes in Q4_0: wo 2.3 MiB, Q/K/V 2.8, down 6.2, gate/up 12.4, LM head 35.
  // Q4_K has the same bytes per weight, so its sections compare with Q4_0's size for size.
  for (DType t : {DType::kQ4_0, DType::kQ4_K})
    benchmark::RegisterBenchmark((std::string("sections/") + dtype_name(t)).c_str(),
                                 [t](benchmark::State& s) { sections(s, t); })
        ->Arg(512)->Arg(2304)->Arg(6336)->Arg(12672)->Arg(36000)->Arg(524288)->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
