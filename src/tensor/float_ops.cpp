// F32, F16 and BF16: conversions and dot products (scalar reference).
#include <cstring>

#include "tensor/fp16.h"
#include "tensor/kv_layout.h"
#include "tensor/type_ops.h"

namespace hearth::tensor {

void f32_to_float(const void* src, float* dst, int64_t n) { std::memcpy(dst, src, n * sizeof(float)); }
void float_to_f32(const float* src, void* dst, int64_t n) { std::memcpy(dst, src, n * sizeof(float)); }

void f16_to_float(const void* src, float* dst, int64_t n) {
  const auto* s = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(s[i]);
}
void float_to_f16(const float* src, void* dst, int64_t n) {
  auto* d = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = f32_to_fp16(src[i]);
}
void bf16_to_float(const void* src, float* dst, int64_t n) {
  const auto* s = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
}
void float_to_bf16(const float* src, void* dst, int64_t n) {
  auto* d = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
}

// Dot products accumulate in double so the reference is the most accurate
// version; fast kernels are compared against it with a tolerance.
float vec_dot_f32(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const float*>(w);
  const auto* b = static_cast<const float*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(s);
}
float vec_dot_f16(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(fp16_to_f32(a[i])) * fp16_to_f32(b[i]);
  return static_cast<float>(s);
}
float vec_dot_bf16(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(bf16_to_f32(a[i])) * bf16_to_f32(b[i]);
  return static_cast<float>(s);
}

float dot_f32_f16(int64_t n, const float* a, const uint16_t* b) {
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * fp16_to_f32(b[i]);
  return s;
}

void axpy_f16(int64_t n, float alpha, const uint16_t* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * fp16_to_f32(x[i]);
}

void attn_scores_f16(int64_t hd, int g, const float* q, const uint16_t* k, int64_t n_kv, float scale, float* s,
                     size_t s_stride) {
  for (int h = 0; h < g; ++h)
    for (int64_t j = 0; j < n_kv; ++j) {
      float dot = 0;
      for (int64_t i = 0; i < hd; ++i) dot += q[h * hd + i] * fp16_to_f32(k[k_index(hd, j, i)]);
      s[static_cast<size_t>(h) * s_stride + static_cast<size_t>(j)] = dot * scale;
    }
}

void attn_mix_f16(int64_t hd, int g, const float* p, size_t p_stride, const uint16_t* v, size_t kv_stride,
                  int64_t n_kv, float* out) {
  for (int h = 0; h < g; ++h) {
    float* o = out + h * hd;
    for (int64_t i = 0; i < hd; ++i) o[i] = 0;
    for (int64_t j = 0; j < n_kv; ++j)
      axpy_f16(hd, p[static_cast<size_t>(h) * p_stride + static_cast<size_t>(j)], v + static_cast<size_t>(j) * kv_stride, o);
  }
}

void attn_scores_q8(int64_t hd, int g, const float* q, const uint8_t* k, int64_t n_kv, float scale, float* s,
                    size_t s_stride) {
  for (int h = 0; h < g; ++h) {
    float* sh = s + static_cast<size_t>(h) * s_stride;
    for (int64_t j = 0; j < n_kv; ++j) sh[j] = 0;
    for (int64_t c = 0; c < hd / kQK; ++c) {
      BlockQ8_0 qb;  // this chunk of the query head, rounded through Q8_0
      quantize_q8_0(q + h * hd + c * kQK, &qb, kQK);
      const float qd = fp16_to_f32(qb.d);
      for (int64_t j = 0; j < n_kv; ++j) {
        const int8_t* codes = q8_k_codes(k, hd, j / kKBlock);
        const uint16_t* scales = q8_k_scales(k, hd, j / kKBlock);
        const int64_t r = j % kKBlock;
        int32_t sum = 0;
        for (int64_t i = 0; i < kQK; ++i) sum += qb.qs[i] * codes[(c * kQK + i) * kKBlock + r];
        sh[j] += static_cast<float>(sum) * (fp16_to_f32(scales[c * kKBlock + r]) * qd);
      }
    }
    for (int64_t j = 0; j < n_kv; ++j) sh[j] *= scale;
  }
}

void attn_mix_q8(int64_t hd, int g, const float* p, size_t p_stride, const uint8_t* v, size_t row_bytes,
                 int64_t n_kv, float* out) {
  for (int h = 0; h < g; ++h) {
    float* o = out + h * hd;
    for (int64_t i = 0; i < hd; ++i) o[i] = 0;
    for (int64_t j = 0; j < n_kv; ++j) {
      const auto* row = reinterpret_cast<const BlockQ8_0*>(v + static_cast<size_t>(j) * row_bytes);
      const float pj = p[static_cast<size_t>(h) * p_stride + static_cast<size_t>(j)];
      for (int64_t i = 0; i < hd; ++i)
        o[i] += pj * (static_cast<float>(row[i / kQK].qs[i % kQK]) * fp16_to_f32(row[i / kQK].d));
    }
  }
}

}  // namespace hearth::tensor
