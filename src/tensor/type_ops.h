// The scalar reference semantics of every tensor type: conversion to and from
// float, and the dot product of a weight row with an activation row quantized
// to the type's `vec_dot_type` (as GGUF engines pair them: Q8_0 for Q4_0/Q5_0/
// Q8_0, Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants, the type itself for floats).
// Fast kernels in src/kernels/ must agree with these. All functions are pure
// and thread-safe; n is a multiple of the type's block size.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace hearth::tensor {

using ToFloatFn = void (*)(const void* src, float* dst, int64_t n);
using FromFloatFn = void (*)(const float* src, void* dst, int64_t n);
using VecDotFn = float (*)(int64_t n, const void* w, const void* x);

struct TypeOps {
  DType type;
  ToFloatFn to_float;
  FromFloatFn from_float;  // reference quantizer (round-to-nearest recipes)
  DType vec_dot_type;
  VecDotFn vec_dot;
};

const TypeOps& type_ops(DType t);

// Per-type entry points (defined in quant_*.cpp / float_ops.cpp).
void f32_to_float(const void* src, float* dst, int64_t n);
void float_to_f32(const float* src, void* dst, int64_t n);
void f16_to_float(const void* src, float* dst, int64_t n);
void float_to_f16(const float* src, void* dst, int64_t n);
void bf16_to_float(const void* src, float* dst, int64_t n);
void float_to_bf16(const float* src, void* dst, int64_t n);
float vec_dot_f32(int64_t n, const void* w, const void* x);
float vec_dot_f16(int64_t n, const void* w, const void* x);
float vec_dot_bf16(int64_t n, const void* w, const void* x);
// Attention over an F16 KV cache: a·b, and y += alpha·x.
float dot_f32_f16(int64_t n, const float* a, const uint16_t* b);
void axpy_f16(int64_t n, float alpha, const uint16_t* x, float* y);
// Grouped-query attention over an F16 KV head (one KV head shared by g query
// heads). scores: s[h·s_stride + j] = scale · q_h · k_j for h < g, j < n_kv
// (q_h = q + h·hd; k_j: position j's key in the head's blocked region k,
// tensor/kv_layout.h).
void attn_scores_f16(int64_t hd, int g, const float* q, const uint16_t* k, int64_t n_kv, float scale, float* s,
                     size_t s_stride);
// mix: out_h = Σ_j p[h·p_stride + j] · v_j (out_h = out + h·hd, overwritten).
void attn_mix_f16(int64_t hd, int g, const float* p, size_t p_stride, const uint16_t* v, size_t kv_stride,
                  int64_t n_kv, float* out);
// The same over a Q8_0 cache (tensor/kv_layout.h; hd % 32 == 0): k the
// head's blocked keys, v its rows of hd / 32 BlockQ8_0, row_bytes apart. Each
// value is code · scale as in Q8_0's dequantization; the scores take each
// query head quantized to Q8_0 too (as llama.cpp's Q8_0 dot products do), so
// that fast kernels can multiply int8 by int8.
void attn_scores_q8(int64_t hd, int g, const float* q, const uint8_t* k, int64_t n_kv, float scale, float* s,
                    size_t s_stride);
void attn_mix_q8(int64_t hd, int g, const float* p, size_t p_stride, const uint8_t* v, size_t row_bytes,
                 int64_t n_kv, float* out);

#define HEARTH_DECLARE_QTYPE(name)                                   \
  void dequantize_##name(const void* src, float* dst, int64_t n);    \
  void quantize_##name(const float* src, void* dst, int64_t n);      \
  float vec_dot_##name(int64_t n, const void* w, const void* x);

HEARTH_DECLARE_QTYPE(q4_0)
HEARTH_DECLARE_QTYPE(q4_1)
HEARTH_DECLARE_QTYPE(q5_0)
HEARTH_DECLARE_QTYPE(q5_1)
HEARTH_DECLARE_QTYPE(q8_0)
HEARTH_DECLARE_QTYPE(q2_k)
HEARTH_DECLARE_QTYPE(q3_k)
HEARTH_DECLARE_QTYPE(q4_k)
HEARTH_DECLARE_QTYPE(q5_k)
HEARTH_DECLARE_QTYPE(q6_k)
#undef HEARTH_DECLARE_QTYPE
void dequantize_q8_1(const void* src, float* dst, int64_t n);
void quantize_q8_1(const float* src, void* dst, int64_t n);
void dequantize_q8_k(const void* src, float* dst, int64_t n);
void quantize_q8_k(const float* src, void* dst, int64_t n);

}  // namespace hearth::tensor
