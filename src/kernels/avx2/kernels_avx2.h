// The AVX2 kernels (each checked against its scalar reference in tensor/).
#pragma once

#include <cstddef>
#include <cstdint>

namespace hearth::kernels::avx2 {

float vec_dot_f32(int64_t n, const void* w, const void* x);
float vec_dot_f16(int64_t n, const void* w, const void* x);
float vec_dot_bf16(int64_t n, const void* w, const void* x);
float vec_dot_q4_0(int64_t n, const void* w, const void* x);
float vec_dot_q4_1(int64_t n, const void* w, const void* x);
float vec_dot_q5_0(int64_t n, const void* w, const void* x);
float vec_dot_q5_1(int64_t n, const void* w, const void* x);
float vec_dot_q8_0(int64_t n, const void* w, const void* x);
float vec_dot_q2_k(int64_t n, const void* w, const void* x);
float vec_dot_q3_k(int64_t n, const void* w, const void* x);
float vec_dot_q4_k(int64_t n, const void* w, const void* x);
float vec_dot_q5_k(int64_t n, const void* w, const void* x);
float vec_dot_q6_k(int64_t n, const void* w, const void* x);
float dot_f32_f16(int64_t n, const float* a, const uint16_t* b);
void axpy_f16(int64_t n, float alpha, const uint16_t* x, float* y);
// RMS norm (norm_avx2.cpp).
void rms_norm(const float* x, const float* w, float* out, int64_t n, float eps);
// Row activations with a vector exp (activation_avx2.cpp).
void softmax(float* x, int64_t n);
void silu_mul(int64_t n, const float* a, const float* b, float* out);
void gelu(int64_t n, const float* x, float* out);
void rope(float* x, int64_t n_rot, const float* cs, bool neox);
void float_to_f16(const float* src, void* dst, int64_t n);
void add(int64_t n, float* y, const float* x);
void attn_scores_f16(int64_t hd, int g, const float* q, const uint16_t* k, int64_t n_kv, float scale, float* s,
                     size_t s_stride);
void attn_mix_f16(int64_t hd, int g, const float* p, size_t p_stride, const uint16_t* v, size_t kv_stride,
                  int64_t n_kv, float* out);
void attn_scores_q8(int64_t hd, int g, const float* q, const uint8_t* k, int64_t n_kv, float scale, float* s,
                    size_t s_stride);
void attn_mix_q8(int64_t hd, int g, const float* p, size_t p_stride, const uint8_t* v, size_t row_bytes,
                 int64_t n_kv, float* out);

// Interleaved (x16) products, Q4_0, Q8_0 and Q4_K (see kernels.h GemmX16Fn).
void gemm_x16_f32(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                  size_t ys);
void gemm_x16_f16(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                  size_t ys);
void gemm_x16_bf16(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys);
// F16 activations for the interleaved F16 products: rounded to half, as floats.
void x16_act_f16(const float* x, int64_t n, void* out);
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
void gemm_x16_q4_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys);
void gemm_x16_q2_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys);
void gemm_x16_q3_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys);
void gemm_x16_q5_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys);
void gemm_x16_q6_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys);

}  // namespace hearth::kernels::avx2
