#include "model/matmul.h"

#include <stdexcept>

#include "core/stream_copy.h"
#include "tensor/type_ops.h"

namespace hearth::model {

namespace {
// Scratch buffers only grow: resizing one down and up again between
// products would zero the regrown part every time.
template <class V>
void grow(V& v, size_t n) {
  if (v.size() < n) v.resize(n);
}
}  // namespace

void MatMul::add_lora(const Weight& w, const float* x, int64_t n_rows, float* y, core::ThreadPool& pool,
                      const kernels::Kernels& k) {
  const LoraPair& l = *w.lora;
  lora_t_.resize(static_cast<size_t>(n_rows * l.a.n_out));
  lora_u_.resize(static_cast<size_t>(n_rows * w.n_out));
  run(l.a, x, n_rows, lora_t_.data(), pool, k);
  run(l.b, lora_t_.data(), n_rows, lora_u_.data(), pool, k);
  for (int64_t i = 0; i < n_rows * w.n_out; ++i) y[i] += l.scale * lora_u_[i];
}

void MatMul::run(const Weight& w, const float* x, int64_t n_rows, float* y, core::ThreadPool& pool,
                 const kernels::Kernels& k) {
  run_base(w, x, n_rows, y, pool, k);
  if (w.lora) add_lora(w, x, n_rows, y, pool, k);
}

void MatMul::run_base(const Weight& w, const float* x, int64_t n_rows, float* y, core::ThreadPool& pool,
                      const kernels::Kernels& k) {
  if (w.x16 && k.gemm_x16[static_cast<int>(w.type)]) {
    const Output out{&w, y};
    run_x16(std::span<const Output>(&out, 1), x, n_rows, pool, k);
    return;
  }
  quantize_input(w, x, n_rows, pool, k);
  const DType act_type = tensor::type_ops(w.type).vec_dot_type;
  const size_t act_row = row_bytes(act_type, w.n_in);
  tensor::VecDotFn dot = k.dot(w.type);
  kernels::Kernels::VecDotRowsFn dot_rows = k.vec_dot_rows[static_cast<int>(w.type)];
  const int64_t n_in = w.n_in, n_out = w.n_out;
  const uint8_t* xq = xq_.data();
  kernels::Kernels::TileFn tile = k.tile[static_cast<int>(w.type)];
  kernels::Kernels::PackFn pack = k.pack_act[static_cast<int>(w.type)];
  if (tile && pack && n_rows > 1 && n_in % 64 == 0 && act_type == DType::kQ8_0) {
    // Matrix tiles: 4 weight rows x 6 activation rows. Each thread keeps a
    // block of 64 weight rows hot in L2 while it streams the packed
    // activations past it.
    const size_t np = static_cast<size_t>(n_in / 64);
    grow(xp_, static_cast<size_t>(n_rows) * np);
    kernels::PackedQ8Pair* xp = xp_.data();
    pool.parallel_for(static_cast<size_t>(n_rows), [&](size_t b, size_t e, int) {
      for (size_t r = b; r < e; ++r) pack(xq + r * act_row, n_in, xp + r * np);
    });
    pool.parallel_for(static_cast<size_t>(n_out), [&](size_t b, size_t e, int) {
      constexpr size_t kBlock = 64;
      for (size_t o0 = b; o0 < e; o0 += kBlock) {
        const size_t o1 = std::min(e, o0 + kBlock);
        for (int64_t r = 0; r < n_rows; r += kernels::kTileRowsX) {
          const int nx = static_cast<int>(std::min<int64_t>(kernels::kTileRowsX, n_rows - r));
          for (size_t o = o0; o < o1; o += kernels::kTileRowsW) {
            const int nw = static_cast<int>(std::min<size_t>(kernels::kTileRowsW, o1 - o));
            tile(n_in, w.row(static_cast<int64_t>(o)), w.row_bytes, nw, xp + static_cast<size_t>(r) * np, np, nx,
                 y + r * n_out + static_cast<int64_t>(o), static_cast<size_t>(n_out));
          }
        }
      }
    }, 4);
    return;
  }
  if (dot_rows && n_rows > 1) {
    // Each weight row is unpacked once per group of 4 activation rows.
    pool.parallel_for(static_cast<size_t>(n_out), [&](size_t b, size_t e, int) {
      constexpr size_t kBlock = 16;
      float out[4];
      for (size_t o0 = b; o0 < e; o0 += kBlock) {
        size_t o1 = std::min(e, o0 + kBlock);
        for (int64_t r = 0; r < n_rows; r += 4) {
          int nr = static_cast<int>(std::min<int64_t>(4, n_rows - r));
          for (size_t o = o0; o < o1; ++o) {
            dot_rows(n_in, w.row(static_cast<int64_t>(o)), xq + r * act_row, act_row, nr, out);
            for (int j = 0; j < nr; ++j) y[(r + j) * n_out + static_cast<int64_t>(o)] = out[j];
          }
        }
      }
    }, 4);
    return;
  }
  // Split the weight rows: each thread streams its slice of W once, for all
  // activation rows (blocked so a few weight rows stay in cache).
  pool.parallel_for(static_cast<size_t>(n_out), [&](size_t b, size_t e, int) {
    constexpr size_t kBlock = 16;
    for (size_t o0 = b; o0 < e; o0 += kBlock) {
      size_t o1 = std::min(e, o0 + kBlock);
      for (int64_t r = 0; r < n_rows; ++r) {
        const uint8_t* xr = xq + r * act_row;
        float* yr = y + r * n_out;
        for (size_t o = o0; o < o1; ++o) yr[o] = dot(n_in, w.row(static_cast<int64_t>(o)), xr);
      }
    }
  }, 4);
}

void MatMul::run_x16(std::span<const Output> outs, const float* x, int64_t n_rows, core::ThreadPool& pool,
                     const kernels::Kernels& k) {
  const Weight& w0 = *outs[0].w;
  const int64_t n_in = w0.n_in;
  const size_t act_row = row_bytes(tensor::type_ops(w0.type).vec_dot_type, n_in);
  const size_t xa_row = tensor::x16_act_bytes(w0.type, n_in);
  auto lines = [](size_t bytes) { return (bytes + sizeof(Line) - 1) / sizeof(Line); };
  grow(xa_, lines(static_cast<size_t>(n_rows) * xa_row));
  uint8_t* xa = xa_.data()->b;
  // In generation (a few rows, memory-bound) each row is prepared in its
  // thread's own scratch and published into xa_ with streaming stores: every
  // line of xa_ was read by the other threads in the last product, and
  // writing it in place waited for their copies to be dropped, one line after
  // another (core/stream_copy.h; 3.4 µs of a 13 µs product of 0.5 MiB at
  // ~53 GB/s with the two threads in different core complexes, 0.7 µs this
  // way).
  const bool publish = n_rows <= kernels::kX16MaxX && pool.n_threads() > 1;
  const size_t scratch_lines = lines(xa_row);
  if (publish) grow(xa_scratch_, scratch_lines * static_cast<size_t>(pool.n_threads()));
  auto prepare = [&](size_t r, int tid, auto&& fill) {
    if (!publish) {
      fill(xa + r * xa_row);
      return;
    }
    uint8_t* s = xa_scratch_[static_cast<size_t>(tid) * scratch_lines].b;
    fill(s);
    core::stream_copy(xa + r * xa_row, s, xa_row);
  };
  // One pass from float when the kernels have it (for one token, 1.4 -> 1.2
  // µs per 2048 inputs and 3.9 -> 2.0 µs per 5632, time the other threads
  // wait); the quantized rows are still needed for rows past the last whole
  // group.
  bool tail = false;
  for (const Output& o : outs) tail = tail || o.w->x16_rows < o.w->n_out;
  const kernels::Kernels::X16ActFn fused = k.x16_act[static_cast<int>(w0.type)];
  if (fused && !tail) {
    pool.parallel_for(static_cast<size_t>(n_rows), [&](size_t b, size_t e, int tid) {
      for (size_t r = b; r < e; ++r) prepare(r, tid, [&](uint8_t* out) { fused(x + r * n_in, n_in, out); });
    });
  } else {
    quantize_input(w0, x, n_rows, pool, k);
    const uint8_t* xq = xq_.data();
    pool.parallel_for(static_cast<size_t>(n_rows), [&](size_t b, size_t e, int tid) {
      for (size_t r = b; r < e; ++r)
        prepare(r, tid, [&](uint8_t* out) { tensor::x16_prepare_act(w0.type, xq + r * act_row, n_in, out); });
    });
  }
  const uint8_t* xq = xq_.data();
  // Blocks (a few groups of 16 rows each) of all outputs are numbered in
  // order and handed out by core::WorkRanges: each thread streams one
  // contiguous region, taking pieces from its front with atomics no other
  // thread touches until the end, when an idle thread steals the back half of
  // the other's rest (a shared counter cost a contended atomic, ~100 ns of a
  // stalled stream, per claim, and restarted the prefetch at every claim).
  // Several products of one input share one parallel section. With more
  // activation rows than one kernel call takes, each block stays in L2 while
  // the rows stream past it; one activation row (generation) uses single
  // groups as blocks, so the last pieces are short.
  const size_t block_groups = n_rows > kernels::kX16MaxX ? 4 : 1;
  if (outs.size() > kMaxShared) throw std::logic_error("MatMul::run_x16: more outputs than one section holds");
  Section& sec = section_;
  sec.xa = xa;
  sec.xa_row = xa_row;
  sec.n_in = n_in;
  sec.n_rows = n_rows;
  sec.block_groups = block_groups;
  size_t total = 0;
  for (size_t i = 0; i < outs.size(); ++i) {
    const Weight& w = *outs[i].w;
    const size_t n_groups = static_cast<size_t>(w.x16_rows / tensor::kX16Rows);
    total += (n_groups + block_groups - 1) / block_groups;
    sec.outs[i] = {w.x16, w.x16_group_bytes, n_groups, total, outs[i].y, w.n_out, k.gemm_x16[static_cast<int>(w.type)]};
  }
  work_.reset(total, pool.n_threads());
  pool.parallel_for(static_cast<size_t>(pool.n_threads()), [this](size_t, size_t, int tid) { run_section(tid); });
  // Rows past the last whole group (fewer than 16) use the GGUF layout.
  for (const Output& o : outs) {
    const tensor::VecDotFn dot = k.dot(o.w->type);
    for (int64_t row = o.w->x16_rows; row < o.w->n_out; ++row)
      for (int64_t r = 0; r < n_rows; ++r) o.y[r * o.w->n_out + row] = dot(n_in, o.w->row(row), xq + r * act_row);
  }
}

void MatMul::run_section(int tid) {
  const Section& s = section_;
  for (size_t begin, end; work_.next(tid, &begin, &end);) {
    // Blocks [begin, end), in increasing order; one run per output.
    for (size_t blk = begin; blk < end;) {
      size_t out = 0;
      while (blk >= s.outs[out].block_end) ++out;
      const Section::Out& o = s.outs[out];
      const size_t first = out == 0 ? 0 : s.outs[out - 1].block_end;
      const size_t run_end = std::min(end, o.block_end);
      const size_t g_end = std::min(o.n_groups, (run_end - first) * s.block_groups);
      const size_t step = s.n_rows > kernels::kX16MaxX ? s.block_groups : g_end;
      for (size_t g0 = (blk - first) * s.block_groups; g0 < g_end; g0 += step) {
        const int ng = static_cast<int>(std::min(g_end, g0 + step) - g0);
        for (int64_t r = 0; r < s.n_rows; r += kernels::kX16MaxX) {
          const int nx = static_cast<int>(std::min<int64_t>(kernels::kX16MaxX, s.n_rows - r));
          o.gemm(s.n_in, o.w + g0 * o.group_bytes, o.group_bytes, ng, s.xa + static_cast<size_t>(r) * s.xa_row,
                 s.xa_row, nx, o.y + r * o.n_out + static_cast<int64_t>(g0) * tensor::kX16Rows,
                 static_cast<size_t>(o.n_out));
        }
      }
      blk = run_end;
    }
  }
}

void MatMul::run_shared(std::span<const Output> outs, const float* x, int64_t n_rows, core::ThreadPool& pool,
                        const kernels::Kernels& k) {
  // Interleaved weights with the same prepared activations (one type, or
  // Q4_K with Q6_K as in Q4_K_M's projections) and input size share one
  // quantized input and one parallel section; anything else runs as run()
  // would.
  constexpr size_t kMaxOuts = kMaxShared;
  auto fusable = [&](const Output& o) { return o.w->x16 && !o.w->lora && k.gemm_x16[static_cast<int>(o.w->type)]; };
  if (outs.size() > kMaxOuts) {
    for (const Output& o : outs) run(*o.w, x, n_rows, o.y, pool, k);
    return;
  }
  bool done[kMaxOuts] = {};
  Output group[kMaxOuts];
  for (size_t i = 0; i < outs.size(); ++i) {
    if (done[i]) continue;
    if (!fusable(outs[i])) {
      run(*outs[i].w, x, n_rows, outs[i].y, pool, k);
      continue;
    }
    size_t n = 0;
    for (size_t j = i; j < outs.size(); ++j)
      if (!done[j] && fusable(outs[j]) && tensor::x16_same_act(outs[j].w->type, outs[i].w->type) &&
          outs[j].w->n_in == outs[i].w->n_in) {
        group[n++] = outs[j];
        done[j] = true;
      }
    run_x16(std::span<const Output>(group, n), x, n_rows, pool, k);
  }
}

void MatMul::quantize_input(const Weight& w, const float* x, int64_t n_rows, core::ThreadPool& pool,
                            const kernels::Kernels& k) {
  const DType act_type = tensor::type_ops(w.type).vec_dot_type;
  const size_t act_row = row_bytes(act_type, w.n_in);
  grow(xq_, act_row * n_rows);
  tensor::FromFloatFn quant = k.quantize(act_type);
  pool.parallel_for(static_cast<size_t>(n_rows), [&](size_t b, size_t e, int) {
    for (size_t r = b; r < e; ++r) quant(x + r * w.n_in, xq_.data() + r * act_row, w.n_in);
  });
}

std::span<const uint8_t> first_share(std::span<const Weight* const> ws, int t, int n_threads, size_t cap) {
  // WorkRanges::reset's split of the section's blocks, one block per group of
  // 16 rows as for a few activation rows (run_x16).
  if (n_threads < 1 || t < 0 || t >= n_threads) return {};
  size_t total = 0;
  for (const Weight* w : ws) total += static_cast<size_t>(w->x16_rows / tensor::kX16Rows);
  const size_t g = total * static_cast<size_t>(t) / static_cast<size_t>(n_threads);
  const size_t g_end = total * static_cast<size_t>(t + 1) / static_cast<size_t>(n_threads);
  size_t first = 0;  // the first group of the current weight
  for (const Weight* w : ws) {
    const size_t groups = static_cast<size_t>(w->x16_rows / tensor::kX16Rows);
    if (g < first + groups && g < g_end) {
      const size_t in_w = std::min(g_end, first + groups) - g;  // this weight's part of the share
      return {w->x16 + (g - first) * w->x16_group_bytes, std::min(cap, in_w * w->x16_group_bytes)};
    }
    first += groups;
  }
  return {};
}

void warm_next_product(core::ThreadPool& pool, std::initializer_list<const Weight*> next) {
  constexpr size_t kMax = 4;
  const Weight* ws[kMax];
  size_t n = 0;
  for (const Weight* w : next)
    if (w && w->x16 && n < kMax) ws[n++] = w;
  if (n == 0) return;
  for (int t = 1; t < pool.n_threads(); ++t)
    pool.warm_after_next_job(t, first_share({ws, n}, t, pool.n_threads(), kWarmBytes));
}

void dequantize_row(const Weight& w, int64_t r, float* out) {
  tensor::type_ops(w.type).to_float(w.row(r), out, w.n_in);
}

}  // namespace hearth::model
