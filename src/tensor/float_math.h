// Scalar reference float operations used by the model forward pass (the
// compiler vectorizes these loops at -O2 -march=native).
#pragma once

#include <cmath>
#include <cstdint>

namespace hearth::tensor {

// out = x / rms(x) * w   (x, out: [n]; w may be null for no scale)
inline void rms_norm(const float* x, const float* w, float* out, int64_t n, float eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  float scale = 1.0f / std::sqrt(static_cast<float>(ss / n) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

// In-place softmax over x[0..n).
inline void softmax(float* x, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = x[i] > max ? x[i] : max;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

// y[i] += x[i] (the residual connection).
inline void add(int64_t n, float* y, const float* x) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

inline float silu(float x) { return x / (1.0f + std::exp(-x)); }

// out[i] = silu(a[i]) · b[i] (the gated feed-forward activation); out may be a.
inline void silu_mul(int64_t n, const float* a, const float* b, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = silu(a[i]) * b[i];
}

// GELU, the tanh approximation BERT's GGUF engines use:
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
inline float gelu(float x) {
  const float c = 0.7978845608f;
  return 0.5f * x * (1.0f + std::tanh(c * (x + 0.044715f * x * x * x)));
}
// out[i] = gelu(x[i]); out may be x.
inline void gelu(int64_t n, const float* x, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = gelu(x[i]);
}


// Rotary embedding of one head (x: [head_dim]) at position `pos`, rotating the
// first n_rot dims: adjacent pairs (neox = false) or the two halves (neox = true).
// cs: [n_rot/2] pairs (cos, sin) of pos · base^(-2i/n_rot), see rope_table.
inline void rope(float* x, int64_t n_rot, const float* cs, bool neox) {
  for (int64_t i = 0; i < n_rot / 2; ++i) {
    float c = cs[2 * i], s = cs[2 * i + 1];
    int64_t a = neox ? i : 2 * i;
    int64_t b = neox ? i + n_rot / 2 : 2 * i + 1;
    float x0 = x[a], x1 = x[b];
    x[a] = x0 * c - x1 * s;
    x[b] = x0 * s + x1 * c;
  }
}

// The (cos, sin) pairs for one position: out[n_rot] (computed once per token,
// shared by every head and layer).
inline void rope_table(int64_t n_rot, int64_t pos, float base, float* out) {
  const float theta_scale = std::pow(base, -2.0f / static_cast<float>(n_rot));
  float theta = static_cast<float>(pos);
  for (int64_t i = 0; i < n_rot / 2; ++i) {
    out[2 * i] = std::cos(theta);
    out[2 * i + 1] = std::sin(theta);
    theta *= theta_scale;
  }
}

}  // namespace hearth::tensor
