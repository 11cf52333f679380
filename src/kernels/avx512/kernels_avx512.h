// The AVX-512 kernels (F/BW/VL/DQ + VNNI), each checked against its scalar
// reference in tensor/. Every tensor type has an entry.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hearth::kernels {
struct PackedQ8Pair;  // kernels.h
}

namespace hearth::kernels::avx512 {

float vec_dot_f32(int64_t n, const void* w, const void* x);
float vec_dot_f16(int64_t n, const void* w, const void* x);
float vec_dot_bf16(int64_t n, const void* w, const void* x);
float vec_dot_q4_1(int64_t n, const void* w, const void* x);
float vec_dot_q5_1(int64_t n, const void* w, const void* x);
float vec_dot_q4_0(int64_t n, const void* w, const void* x);
float vec_dot_q8_0(int64_t n, const void* w, const void* x);
float vec_dot_q5_0(int64_t n, const void* w, const void* x);
float vec_dot_q4_k(int64_t n, const void* w, const void* x);
float vec_dot_q6_k(int64_t n, const void* w, const void* x);
void vec_dot_rows_q4_0(int64_t n, const void* w, const void* x, size_t stride, int rows, float* out);
void vec_dot_rows_q8_0(int64_t n, const void* w, const void* x, size_t stride, int rows, float* out);
void vec_dot_rows_q4_k(int64_t n, const void* w, const void* x, size_t stride, int rows, float* out);
void vec_dot_rows_q6_k(int64_t n, const void* w, const void* x, size_t stride, int rows, float* out);
// Row operations (references tensor::rms_norm, tensor::softmax, tensor::silu_mul,
// tensor::gelu).
void rms_norm(const float* x, const float* w, float* out, int64_t n, float eps);
void softmax(float* x, int64_t n);
void silu_mul(int64_t n, const float* a, const float* b, float* out);
void gelu(int64_t n, const float* x, float* out);
void quantize_q8_0(const float* x, void* dst, int64_t n);
void quantize_q8_k(const float* x, void* dst, int64_t n);
// Fused activation quantize + prepare for the interleaved products
// (reference tensor::x16_quantize_act for Q4_0, Q8_0, and the K-quants).
void x16_act_q4_0(const float* x, int64_t n, void* out);
void x16_act_q5_0(const float* x, int64_t n, void* out);
void x16_act_q8_0(const float* x, int64_t n, void* out);
void x16_act_k(const float* x, int64_t n, void* out);
void tile_q4_0(int64_t n, const void* w, size_t ws, int nw, const PackedQ8Pair* x, size_t xs, int nx, float* y,
               size_t ys);
void tile_q8_0(int64_t n, const void* w, size_t ws, int nw, const PackedQ8Pair* x, size_t xs, int nx, float* y,
               size_t ys);
void pack_q8_0_for_q4_0(const void* xq, int64_t n, PackedQ8Pair* out);
void pack_q8_0_for_q8_0(const void* xq, int64_t n, PackedQ8Pair* out);
// Grouped-query attention's V mix over the F16 KV cache (see kernels.h).
void attn_scores_f16(int64_t hd, int g, const float* q, const uint16_t* k, int64_t n_kv, float scale, float* s,
                     size_t s_stride);
void attn_mix_f16(int64_t hd, int g, const float* p, size_t p_stride, const uint16_t* v, size_t kv_stride,
                  int64_t n_kv, float* out);
void attn_scores_q8(int64_t hd, int g, const float* q, const uint8_t* k, int64_t n_kv, float scale, float* s,
                    size_t s_stride);
void attn_mix_q8(int64_t hd, int g, const float* p, size_t p_stride, const uint8_t* v, size_t row_bytes,
                 int64_t n_kv, float* out);
// Interleaved (x16) products; x: prepared activation rows xs bytes apart.
void gemm_x16_f32(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                  size_t ys);
void gemm_x16_f16(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                  size_t ys);
void gemm_x16_bf16(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys);
void gemm_x16_q4_0(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys);
void gemm_x16_q4_1(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys);
void gemm_x16_q5_1(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys);
void gemm_x16_q5_0(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys);
void gemm_x16_q8_0(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys);
void gemm_x16_q2_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys);
void gemm_x16_q3_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys);
void gemm_x16_q4_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys);
void gemm_x16_q5_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys);
void gemm_x16_q6_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys);

}  // namespace hearth::kernels::avx512
