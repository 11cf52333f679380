// The fast kernel table: per tensor type, the dot product of a weight row with
// an activation row (in the type's vec_dot_type), and the activation
// quantizers. Built once at start-up for the best ISA the CPU has (or the one
// forced with HEARTH_ISA); entries without a fast version use the scalar
// reference from src/tensor/. Immutable after construction, thread-safe.
#pragma once

#include "core/cpu_features.h"
#include "core/dtype.h"
#include "tensor/interleave.h"
#include "tensor/type_ops.h"

namespace hearth::kernels {

constexpr int kMaxTypeId = 40;

// Two Q8_0 activation blocks (64 values) laid out for matrix tiles: the codes
// contiguous, per 4-value lane the correction -K·Σcodes for the weight type's
// unsigned offset K, and per lane the block scale as float.
// Largest matrix tile: weight rows x activation rows.
constexpr int kTileRowsW = 4, kTileRowsX = 6;
// Most activation rows per call of an interleaved (x16) product.
constexpr int kX16MaxX = 8;

// For kernels templated on their number of activation rows: calls
// f.template operator()<N>() with N = nx clamped to [1, kMax].
template <int kMax, class F>
inline void with_rows(int nx, F&& f) {
  if constexpr (kMax > 1)
    if (nx < kMax) return with_rows<kMax - 1>(nx, f);
  f.template operator()<kMax>();
}

struct alignas(64) PackedQ8Pair {
  int8_t qs[64];
  int32_t off[16];
  float d[16];
};

struct Kernels {
  core::Isa isa = core::Isa::kScalar;
  tensor::VecDotFn vec_dot[kMaxTypeId] = {};
  tensor::FromFloatFn from_float[kMaxTypeId] = {};  // used for activations
  // Optional multi-row dot products: out[r] = dot(w, x + r·x_stride) for
  // r < n_rows (n_rows <= 4), unpacking each weight block once for all rows
  // (prompt processing and batched decoding). Null: use vec_dot per row.
  using VecDotRowsFn = void (*)(int64_t n, const void* w, const void* x, size_t x_stride, int n_rows, float* out);
  VecDotRowsFn vec_dot_rows[kMaxTypeId] = {};
  // Optional matrix tiles for prompt processing (rows with n_in % 64 == 0):
  // pack converts one Q8_0 activation row into n/64 PackedQ8Pair; tile
  // writes y[j·y_stride + i] = dot(weight row i, activation row j) for
  // i < nw <= kTileRowsW, j < nx <= kTileRowsX (weight rows w_stride bytes apart, activation
  // rows x_stride pairs apart). Same results as vec_dot up to float rounding.
  using PackFn = void (*)(const void* xq, int64_t n, PackedQ8Pair* out);
  using TileFn = void (*)(int64_t n, const void* w, size_t w_stride, int nw, const PackedQ8Pair* x, size_t x_stride,
                          int nx, float* y, size_t y_stride);
  PackFn pack_act[kMaxTypeId] = {};
  TileFn tile[kMaxTypeId] = {};
  // Optional products over weights interleaved 16 rows at a time
  // (tensor/interleave.h); when present, models repack such weights at load.
  // Writes y[j·y_stride + 16·g + r] = dot(row r of group g, activation row j)
  // for g < n_groups (groups group_bytes apart), j < nx <= kX16MaxX
  // (activation rows prepared by tensor::x16_prepare_act, x_stride bytes apart).
  using GemmX16Fn = void (*)(int64_t n, const uint8_t* w, size_t group_bytes, int n_groups, const uint8_t* x,
                             size_t x_stride, int nx, float* y, size_t y_stride);
  GemmX16Fn gemm_x16[kMaxTypeId] = {};
  // Optional: one float row of n values quantized straight into the prepared
  // activation blocks of gemm_x16 (the same bytes as the quantizer of the
  // type's vec_dot_type followed by tensor::x16_prepare_act; reference
  // tensor::x16_quantize_act). Null: those two steps.
  using X16ActFn = void (*)(const float* x, int64_t n, void* out);
  X16ActFn x16_act[kMaxTypeId] = {};
  // Attention helpers over the F16 KV cache: a·b and y += alpha·x.
  float (*dot_f32_f16)(int64_t n, const float* a, const uint16_t* b) = nullptr;
  void (*axpy_f16)(int64_t n, float alpha, const uint16_t* x, float* y) = nullptr;
  // Grouped-query attention (see tensor::attn_scores_f16 / attn_mix_f16):
  // each K block / V row is converted once for all g query heads sharing it.
  void (*attn_scores_f16)(int64_t hd, int g, const float* q, const uint16_t* k, int64_t n_kv, float scale, float* s,
                          size_t s_stride) = nullptr;
  void (*attn_mix_f16)(int64_t hd, int g, const float* p, size_t p_stride, const uint16_t* v, size_t kv_stride,
                       int64_t n_kv, float* out) = nullptr;
  // The same over a Q8_0 cache (tensor::attn_scores_q8 / attn_mix_q8).
  void (*attn_scores_q8)(int64_t hd, int g, const float* q, const uint8_t* k, int64_t n_kv, float scale, float* s,
                         size_t s_stride) = nullptr;
  void (*attn_mix_q8)(int64_t hd, int g, const float* p, size_t p_stride, const uint8_t* v, size_t row_bytes,
                      int64_t n_kv, float* out) = nullptr;
  // Row operations (tensor::rms_norm, tensor::softmax, tensor::silu_mul,
  // tensor::rope for one head, tensor::add: y += x).
  void (*rms_norm)(const float* x, const float* w, float* out, int64_t n, float eps) = nullptr;
  void (*softmax)(float* x, int64_t n) = nullptr;
  void (*silu_mul)(int64_t n, const float* a, const float* b, float* out) = nullptr;  // out may be a
  void (*gelu)(int64_t n, const float* x, float* out) = nullptr;  // tensor::gelu; out may be x
  void (*rope)(float* x, int64_t n_rot, const float* cs, bool neox) = nullptr;
  void (*add)(int64_t n, float* y, const float* x) = nullptr;
  // Which entries are fast versions (not the scalar reference), for reports.
  bool fast_vec_dot[kMaxTypeId] = {};

  tensor::VecDotFn dot(DType t) const { return vec_dot[static_cast<int>(t)]; }
  tensor::FromFloatFn quantize(DType t) const { return from_float[static_cast<int>(t)]; }
};

// The table for the start-up ISA.
const Kernels& active();
// The table for a given ISA (clamped to what this CPU supports); for tests.
const Kernels& for_isa(core::Isa isa);

// Registration hooks implemented per ISA folder.
void register_avx2(Kernels& k);
void register_avx512(Kernels& k);

}  // namespace hearth::kernels
