// Scalar reference of every tensor type: quantize/dequantize error bounds,
// dot products consistent with dequantized math, and fp16/bf16 conversions.
// Also checks every fast kernel (each ISA this CPU has) against the reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/cpu_features.h"
#include "kernels/kernels.h"
#include "kernels/prefetch.h"
#include "tensor/float_math.h"
#include "tensor/fp16.h"
#include "tensor/interleave.h"
#include "tensor/kv_layout.h"
#include "tensor/type_ops.h"

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace hearth::tensor {
namespace {

std::vector<float> random_vec(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct TypeCase {
  DType type;
  double max_rel_rmse;  // quantization error relative to the data's RMS
};

const TypeCase kCases[] = {
    {DType::kF32, 1e-9},  {DType::kF16, 0.001}, {DType::kBF16, 0.005}, {DType::kQ8_0, 0.01}, {DType::kQ5_0, 0.06},
    {DType::kQ5_1, 0.06}, {DType::kQ4_0, 0.12},  {DType::kQ4_1, 0.12}, {DType::kQ6_K, 0.03},
    {DType::kQ5_K, 0.06}, {DType::kQ4_K, 0.12},  {DType::kQ3_K, 0.25}, {DType::kQ2_K, 0.45},
};

class TypeTest : public ::testing::TestWithParam<TypeCase> {};

TEST_P(TypeTest, QuantizeDequantizeErrorIsBounded) {
  const TypeCase& c = GetParam();
  const TypeOps& ops = type_ops(c.type);
  const int64_t n = 256 * 8;
  auto x = random_vec(n, 1);
  std::vector<uint8_t> q(row_bytes(c.type, n));
  std::vector<float> y(n);
  ops.from_float(x.data(), q.data(), n);
  ops.to_float(q.data(), y.data(), n);
  double err = 0, ref = 0;
  for (int64_t i = 0; i < n; ++i) {
    err += (x[i] - y[i]) * (x[i] - y[i]);
    ref += x[i] * x[i];
  }
  EXPECT_LE(std::sqrt(err / ref), c.max_rel_rmse) << dtype_name(c.type);
  if (c.type != DType::kF32) {
    EXPECT_GT(std::sqrt(err / ref), 0.0) << "suspiciously exact for " << dtype_name(c.type);
  }
}

TEST_P(TypeTest, ZerosStayZero) {
  const TypeCase& c = GetParam();
  const TypeOps& ops = type_ops(c.type);
  const int64_t n = 256;
  std::vector<float> x(n, 0.f), y(n, 1.f);
  std::vector<uint8_t> q(row_bytes(c.type, n));
  ops.from_float(x.data(), q.data(), n);
  ops.to_float(q.data(), y.data(), n);
  for (float v : y) EXPECT_EQ(v, 0.f);
}

TEST_P(TypeTest, VecDotMatchesDequantizedDot) {
  const TypeCase& c = GetParam();
  const TypeOps& ops = type_ops(c.type);
  const TypeOps& act = type_ops(ops.vec_dot_type);
  const int64_t n = 256 * 4;
  auto w = random_vec(n, 2), x = random_vec(n, 3);
  std::vector<uint8_t> wq(row_bytes(c.type, n)), xq(row_bytes(ops.vec_dot_type, n));
  ops.from_float(w.data(), wq.data(), n);
  act.from_float(x.data(), xq.data(), n);
  std::vector<float> wd(n), xd(n);
  ops.to_float(wq.data(), wd.data(), n);
  act.to_float(xq.data(), xd.data(), n);
  double expect = 0;
  for (int64_t i = 0; i < n; ++i) expect += static_cast<double>(wd[i]) * xd[i];
  float got = ops.vec_dot(n, wq.data(), xq.data());
  EXPECT_NEAR(got, expect, 1e-3 * std::sqrt(static_cast<double>(n))) << dtype_name(c.type);
}

// Every fast kernel agrees with the scalar reference on random rows of
// several lengths, including a single block.
TEST_P(TypeTest, FastKernelsMatchReference) {
  const TypeCase& c = GetParam();
  const TypeOps& ops = type_ops(c.type);
  const TypeOps& act = type_ops(ops.vec_dot_type);
  for (core::Isa isa : {core::Isa::kAvx2, core::Isa::kAvx512}) {
    const kernels::Kernels& k = kernels::for_isa(isa);
    if (k.isa != isa) continue;  // CPU lacks it
    // Every type in this table must have a fast version on each ISA.
    EXPECT_TRUE(k.fast_vec_dot[static_cast<int>(c.type)]) << dtype_name(c.type) << " on " << core::isa_name(isa);
    for (int64_t n : {96, 100, 256, 512, 4096, 256 * 11}) {
      if (n % dtype_info(c.type).block_size != 0 || n % dtype_info(ops.vec_dot_type).block_size != 0) continue;
      for (uint32_t seed = 0; seed < 4; ++seed) {
        auto w = random_vec(n, 10 + seed, seed == 3 ? 100.f : 1.f), x = random_vec(n, 20 + seed, seed == 2 ? 1e-3f : 1.f);
        std::vector<uint8_t> wq(row_bytes(c.type, n)), xq(row_bytes(ops.vec_dot_type, n)), xq_fast(xq.size());
        ops.from_float(w.data(), wq.data(), n);
        act.from_float(x.data(), xq.data(), n);
        k.quantize(ops.vec_dot_type)(x.data(), xq_fast.data(), n);
        EXPECT_EQ(xq, xq_fast) << "activation quantizer " << dtype_name(ops.vec_dot_type) << " on " << core::isa_name(isa);
        double ref = ops.vec_dot(n, wq.data(), xq.data());
        double got = k.dot(c.type)(n, wq.data(), xq.data());
        double scale = 0;
        std::vector<float> wd(n), xd(n);
        ops.to_float(wq.data(), wd.data(), n);
        act.to_float(xq.data(), xd.data(), n);
        for (int64_t i = 0; i < n; ++i) scale += std::fabs(static_cast<double>(wd[i]) * xd[i]);
        EXPECT_NEAR(got, ref, 1e-5 * scale + 1e-6) << dtype_name(c.type) << " " << core::isa_name(isa) << " n=" << n;
        if (auto rows = k.vec_dot_rows[static_cast<int>(c.type)]) {
          // Four activation rows (the reference row and three variants).
          const size_t ar = row_bytes(ops.vec_dot_type, n);
          std::vector<uint8_t> xs(4 * ar);
          for (int r = 0; r < 4; ++r) {
            auto xr = random_vec(n, 40 + seed * 4 + r);
            act.from_float(xr.data(), xs.data() + r * ar, n);
          }
          for (int nr = 1; nr <= 4; ++nr) {
            float out[4];
            rows(n, wq.data(), xs.data(), ar, nr, out);
            for (int r = 0; r < nr; ++r) {
              double want = ops.vec_dot(n, wq.data(), xs.data() + r * ar);
              EXPECT_NEAR(out[r], want, 1e-5 * scale + 1e-3) << dtype_name(c.type) << " rows=" << nr << " r=" << r;
            }
          }
        }
      }
    }
  }
}

// The prompt-processing matrix tiles agree with the scalar reference for every
// tile shape (1..kTileRowsW weight rows x 1..kTileRowsX activation rows), through the packed
// activation layout.
TEST_P(TypeTest, MatrixTilesMatchReference) {
  const TypeCase& c = GetParam();
  const TypeOps& ops = type_ops(c.type);
  const TypeOps& act = type_ops(ops.vec_dot_type);
  for (core::Isa isa : {core::Isa::kAvx2, core::Isa::kAvx512}) {
    const kernels::Kernels& k = kernels::for_isa(isa);
    auto tile = k.tile[static_cast<int>(c.type)];
    auto pack = k.pack_act[static_cast<int>(c.type)];
    if (!tile) continue;
    ASSERT_TRUE(pack != nullptr);
    ASSERT_EQ(ops.vec_dot_type, DType::kQ8_0);
    for (int64_t n : {64, 192, 2048}) {
      const size_t wr = row_bytes(c.type, n), ar = row_bytes(ops.vec_dot_type, n), np = static_cast<size_t>(n / 64);
      constexpr int W = kernels::kTileRowsW, X = kernels::kTileRowsX;
      std::vector<uint8_t> wq(W * wr), xq(X * ar);
      std::vector<kernels::PackedQ8Pair> xp(X * np);
      double scale = 0;
      std::vector<float> wmax(W), xmax(X);
      for (int r = 0; r < W; ++r) {
        auto w = random_vec(n, 60 + r, r == 3 ? 50.f : 1.f);
        ops.from_float(w.data(), wq.data() + r * wr, n);
        for (float v : w) wmax[r] = std::max(wmax[r], std::fabs(v));
      }
      for (int r = 0; r < X; ++r) {
        auto x = random_vec(n, 70 + r, r == 2 ? 1e-3f : 1.f);
        act.from_float(x.data(), xq.data() + r * ar, n);
        pack(xq.data() + r * ar, n, xp.data() + r * np);
        for (float v : x) xmax[r] = std::max(xmax[r], std::fabs(v));
      }
      scale = static_cast<double>(*std::max_element(wmax.begin(), wmax.end())) * *std::max_element(xmax.begin(), xmax.end());
      for (int nw = 1; nw <= W; ++nw) {
        for (int nx = 1; nx <= X; ++nx) {
          float y[X][W];
          for (auto& row : y) std::fill(std::begin(row), std::end(row), -12345.f);
          tile(n, wq.data(), wr, nw, xp.data(), np, nx, &y[0][0], W);
          for (int j = 0; j < X; ++j) {
            for (int i = 0; i < W; ++i) {
              if (i >= nw || j >= nx) {
                EXPECT_EQ(y[j][i], -12345.f) << "tile wrote outside " << nw << "x" << nx;
                continue;
              }
              double want = ops.vec_dot(n, wq.data() + i * wr, xq.data() + j * ar);
              EXPECT_NEAR(y[j][i], want, 1e-6 * scale * static_cast<double>(n) + 1e-4)
                  << dtype_name(c.type) << " " << core::isa_name(isa) << " n=" << n << " tile " << nw << "x" << nx;
            }
          }
        }
      }
    }
  }
}

// Weights interleaved 16 rows at a time: packing round-trips, the scalar
// reference over the interleaved layout agrees with the type's vec_dot, and
// every fast x16 kernel agrees with the reference for 1..kX16MaxX activation
// rows and several groups (strides included).
TEST_P(TypeTest, InterleavedRowsMatchReference) {
  const TypeCase& c = GetParam();
  if (!x16_supported(c.type)) return;
  const TypeOps& ops = type_ops(c.type);
  const TypeOps& act = type_ops(ops.vec_dot_type);
  constexpr int G = 3, X = kernels::kX16MaxX, R = kX16Rows;
  const int64_t bs = dtype_info(c.type).block_size;
  for (int64_t n : {bs, 3 * bs, 2048 + 2 * bs}) {
    const size_t wr = row_bytes(c.type, n), ar = row_bytes(ops.vec_dot_type, n), gb = x16_group_bytes(c.type, n);
    const size_t xr = x16_act_bytes(c.type, n);
    std::vector<uint8_t> wq(G * R * wr), packed(G * gb), back(wr), xq(X * ar), xa(X * xr);
    float wmax = 0, xmax = 0;
    for (int r = 0; r < G * R; ++r) {
      auto w = random_vec(n, 100 + r, r == 5 ? 40.f : 1.f);
      if (r == 7) for (auto& v : w) v = std::fabs(v) + 0.5f;  // all positive: large mins (K-quants)
      ops.from_float(w.data(), wq.data() + r * wr, n);
      for (float v : w) wmax = std::max(wmax, std::fabs(v));
    }
    for (int g = 0; g < G; ++g) x16_pack(c.type, wq.data() + g * R * wr, wr, n, packed.data() + g * gb);
    for (int r = 0; r < G * R; ++r) {
      x16_unpack_row(c.type, packed.data() + (r / R) * gb, n, r % R, back.data());
      ASSERT_TRUE(std::equal(back.begin(), back.end(), wq.begin() + r * wr)) << "round trip of row " << r;
    }
    for (int j = 0; j < X; ++j) {
      auto x = random_vec(n, 200 + j, j == 1 ? 1e-3f : 1.f);
      if (j == 3) for (auto& v : x) v = std::fabs(v);  // large activation sums
      act.from_float(x.data(), xq.data() + j * ar, n);
      x16_prepare_act(c.type, xq.data() + j * ar, n, xa.data() + j * xr);
      for (float v : x) xmax = std::max(xmax, std::fabs(v));
    }
    const double tol = 1e-6 * static_cast<double>(wmax) * xmax * static_cast<double>(n) + 1e-4;
    float ref[X][G * R];
    for (int j = 0; j < X; ++j)
      for (int g = 0; g < G; ++g) {
        x16_gemv_ref(c.type, n, packed.data() + g * gb, xa.data() + j * xr, &ref[j][g * R]);
        for (int r = 0; r < R; ++r) {
          const double want = ops.vec_dot(n, wq.data() + (g * R + r) * wr, xq.data() + j * ar);
          ASSERT_NEAR(ref[j][g * R + r], want, tol) << dtype_name(c.type) << " reference, n=" << n;
        }
      }
    for (core::Isa isa : {core::Isa::kScalar, core::Isa::kAvx2, core::Isa::kAvx512}) {
      auto gemm = kernels::for_isa(isa).gemm_x16[static_cast<int>(c.type)];
      if (!gemm) continue;
      for (int nx = 1; nx <= X; ++nx) {
        std::vector<float> y(X * (G * R + 1), -12345.f);
        const size_t ys = G * R + 1;
        gemm(n, packed.data(), gb, G, xa.data(), xr, nx, y.data(), ys);
        for (int j = 0; j < X; ++j)
          for (size_t i = 0; i < ys; ++i) {
            if (j >= nx || i == G * R) {
              EXPECT_EQ(y[j * ys + i], -12345.f) << "wrote outside nx=" << nx;
              continue;
            }
            EXPECT_NEAR(y[j * ys + i], ref[j][i], tol)
                << dtype_name(c.type) << " " << core::isa_name(isa) << " n=" << n << " nx=" << nx << " row " << i;
          }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, TypeTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<TypeCase>& i) { return std::string(dtype_name(i.param.type)); });

TEST(PrefetchPolicy, ChosenByVendorOrForced) {
  using kernels::PrefetchHint;
  core::CpuFeatures intel, amd;
  intel.vendor = "GenuineIntel";
  amd.vendor = "AuthenticAMD";
  std::string error;
  // Intel: every type prefetched in stages; AMD (and anything else): the
  // non-temporal policy tuned on Zen 4, Q8_0 and Q4_K left to the hardware
  // prefetchers.
  kernels::PrefetchPolicy p = kernels::choose_prefetch_policy(intel, nullptr, &error);
  EXPECT_STREQ(p.name, "staged");
  EXPECT_EQ(p.hint, PrefetchHint::kStaged);
  EXPECT_GT(p.q4_0_pairs, 0);
  EXPECT_GT(p.q8_0_pairs, 0);
  EXPECT_GT(p.q4_k_blocks, 0);
  EXPECT_GT(p.q6_k_blocks, 0);
  EXPECT_EQ(p.q8_0_avx512_hint, PrefetchHint::kT1T0);
  p = kernels::choose_prefetch_policy(amd, nullptr, &error);
  EXPECT_STREQ(p.name, "nta");
  EXPECT_EQ(p.hint, PrefetchHint::kNta);
  EXPECT_EQ(p.q4_0_pairs, 8);
  EXPECT_EQ(p.q8_0_pairs, 0);
  EXPECT_EQ(p.q4_k_blocks, 0);
  EXPECT_EQ(p.q6_k_blocks, 1);
  EXPECT_EQ(p.q6_k_avx512_hint, PrefetchHint::kNta);
  // AMD Zen 5 and later (family 0x1A+): NTA for the legacy types, T1+T0 for
  // the K-quants.
  core::CpuFeatures zen5 = amd;
  zen5.family = 0x1a;
  p = kernels::choose_prefetch_policy(zen5, nullptr, &error);
  EXPECT_STREQ(p.name, "mixed");
  EXPECT_EQ(p.hint, PrefetchHint::kNta);
  EXPECT_EQ(p.q4_0_pairs, 8);
  EXPECT_EQ(p.q8_0_pairs, 0);
  EXPECT_EQ(p.q4_k_blocks, 4);
  EXPECT_EQ(p.q6_k_blocks, 2);
  EXPECT_EQ(p.q4_k_avx512_hint, PrefetchHint::kT1T0);
  EXPECT_EQ(p.q6_k_avx512_hint, PrefetchHint::kT1T0);
  amd.family = 0x19;  // Zen 4
  EXPECT_STREQ(kernels::choose_prefetch_policy(amd, nullptr, &error).name, "nta");
  EXPECT_STREQ(kernels::choose_prefetch_policy(intel, "mixed", &error).name, "mixed");
  EXPECT_STREQ(kernels::choose_prefetch_policy(core::CpuFeatures{}, "", &error).name, "nta");
  EXPECT_TRUE(error.empty());
  // Forced either way.
  EXPECT_STREQ(kernels::choose_prefetch_policy(amd, "staged", &error).name, "staged");
  EXPECT_STREQ(kernels::choose_prefetch_policy(intel, "nta", &error).name, "nta");
  EXPECT_TRUE(error.empty());
  // A name it does not know: the CPU's own, and an error naming the value.
  p = kernels::choose_prefetch_policy(intel, "l2", &error);
  EXPECT_STREQ(p.name, "staged");
  EXPECT_NE(error.find("HEARTH_PREFETCH='l2'"), std::string::npos) << error;
}

TEST(CpuFeatures, VendorIsReadOnX86) {
#if defined(__x86_64__)
  const std::string& v = core::cpu_features().vendor;
  EXPECT_EQ(v.size(), 12u) << v;
  EXPECT_GT(core::cpu_features().family, 0);
#endif
}

TEST(Fp16, ExhaustiveRoundTripAndHardwareAgreement) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = fp16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_fp16(f), h) << h;
#if defined(__F16C__)
    EXPECT_EQ(f, _cvtsh_ss(static_cast<uint16_t>(h)));
#endif
  }
#if defined(__F16C__)
  std::mt19937 rng(5);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    float f = bits_to_f32(bits(rng));
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_fp16(f), _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)) << f;
  }
#endif
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f808000)), 0x3f80);  // tie -> even
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f818000)), 0x3f82);  // tie -> even (up)
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

// RMS norm (with and without weights) agrees with the reference to float
// rounding, for lengths on and off the vector width.
TEST(RowKernels, RmsNormMatchesReference) {
  for (core::Isa isa : {core::Isa::kAvx2, core::Isa::kAvx512}) {
    const kernels::Kernels& k = kernels::for_isa(isa);
    if (k.isa != isa) continue;
    for (int64_t n : {1, 7, 16, 17, 100, 2048}) {
      const auto x = random_vec(n, 70 + static_cast<int>(n), 3.0f), w = random_vec(n, 71);
      for (const float* wp : {static_cast<const float*>(nullptr), w.data()}) {
        std::vector<float> y1(n, 9.f), y2(n, -9.f);
        k.rms_norm(x.data(), wp, y1.data(), n, 1e-5f);
        rms_norm(x.data(), wp, y2.data(), n, 1e-5f);
        for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y1[i], y2[i], 1e-6f * std::abs(y2[i]) + 1e-30f) << "n=" << n;
      }
    }
  }
}

// RoPE (adjacent pairs and halves, n_rot below the head size included) and
// the residual add agree with the references, for lengths on and off the
// vector width.
TEST(RowKernels, RopeAndAddMatchReference) {
  for (core::Isa isa : {core::Isa::kAvx2, core::Isa::kAvx512}) {
    const kernels::Kernels& k = kernels::for_isa(isa);
    if (k.isa != isa) continue;
    for (int64_t hd : {2, 6, 8, 16, 18, 64, 128})
      for (int64_t n_rot : {hd, hd / 2 / 2 * 2})
        for (bool neox : {false, true}) {
          if (n_rot == 0) continue;
          std::vector<float> cs(static_cast<size_t>(n_rot));
          rope_table(n_rot, 1234, 10000.0f, cs.data());
          const auto x = random_vec(hd, 80 + static_cast<int>(hd), 2.0f);
          std::vector<float> a = x, b = x;
          k.rope(a.data(), n_rot, cs.data(), neox);
          rope(b.data(), n_rot, cs.data(), neox);
          for (int64_t i = 0; i < hd; ++i)
            EXPECT_NEAR(a[i], b[i], 1e-6f * 4) << "hd=" << hd << " n_rot=" << n_rot << " neox=" << neox << " i=" << i;
          EXPECT_NE(a, x) << "rotated nothing";
        }
    for (int64_t n : {1, 7, 8, 9, 100, 2048}) {
      const auto x = random_vec(n, 60), y = random_vec(n, 61);
      std::vector<float> a = y, b = y;
      k.add(n, a.data(), x.data());
      add(n, b.data(), x.data());
      EXPECT_EQ(a, b) << "n=" << n;
    }
  }
}

// float -> half (the KV cache store) matches the reference bit for bit,
// edge cases included (subnormals, ties, overflow, infinities); NaN stays NaN.
TEST(RowKernels, HalfConversionMatchesReference) {
  std::vector<float> x = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65519.99f, 65520.0f, -1e9f, INFINITY, -INFINITY,
                          5.96e-8f, 2.98e-8f, 8.9e-8f, 6.1e-5f, 6.09e-5f, 1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048,
                          1e-10f, 3.14159f, NAN, -NAN};
  const auto r = random_vec(1000, 5, 300.0f);
  x.insert(x.end(), r.begin(), r.end());
  for (core::Isa isa : {core::Isa::kAvx2, core::Isa::kAvx512}) {
    const kernels::Kernels& k = kernels::for_isa(isa);
    if (k.isa != isa) continue;
    for (size_t n : {size_t{1}, size_t{7}, size_t{21}, x.size()}) {
      std::vector<uint16_t> a(n, 1), b(n, 2);
      k.quantize(DType::kF16)(x.data(), a.data(), static_cast<int64_t>(n));
      float_to_f16(x.data(), b.data(), static_cast<int64_t>(n));
      for (size_t i = 0; i < n; ++i) {
        if (std::isnan(x[i]))
          EXPECT_TRUE(std::isnan(fp16_to_f32(a[i]))) << i;
        else
          EXPECT_EQ(a[i], b[i]) << "x=" << x[i] << " " << core::isa_name(isa);
      }
    }
  }
}

// Softmax and SiLU·gate with the vector exp agree with the scalar reference
// (std::exp) to a few ulps, for lengths on and off the vector width, values
// spanning the float exponent range's edges, and keep NaN.
TEST(RowKernels, SoftmaxAndSiluMulMatchReference) {
  for (core::Isa isa : {core::Isa::kAvx2, core::Isa::kAvx512}) {
    const kernels::Kernels& k = kernels::for_isa(isa);
    if (k.isa != isa) continue;
    for (int64_t n : {1, 7, 8, 9, 17, 100, 5632}) {
      for (float spread : {1.0f, 30.0f, 200.0f}) {
        auto x = random_vec(n, 90 + static_cast<int>(n));
        for (auto& v : x) v *= spread;
        auto y = random_vec(n, 91);
        std::vector<float> s1 = x, s2 = x;
        k.softmax(s1.data(), n);
        softmax(s2.data(), n);
        for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(s1[i], s2[i], 2e-6f * s2[i] + 1e-30f) << "softmax n=" << n << " i=" << i;
        std::vector<float> a1 = x, a2 = x, out(static_cast<size_t>(n));
        const std::vector<float> x0 = x;
        k.silu_mul(n, a1.data(), y.data(), a1.data());  // in place
        silu_mul(n, a2.data(), y.data(), a2.data());
        k.silu_mul(n, x.data(), y.data(), out.data());  // into another row, x unchanged
        for (int64_t i = 0; i < n; ++i) {
          EXPECT_NEAR(a1[i], a2[i], 2e-6f * std::abs(a2[i]) + 1e-30f) << "silu n=" << n << " x=" << x[i];
          EXPECT_EQ(out[i], a1[i]) << "silu out of place n=" << n << " i=" << i;
        }
        EXPECT_EQ(x, x0) << "silu out of place overwrote its input, n=" << n;
      }
    }
    std::vector<float> nan_row = {1.0f, NAN, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, 8.0f}, ones(9, 1.0f);
    k.silu_mul(9, nan_row.data(), ones.data(), nan_row.data());
    EXPECT_TRUE(std::isnan(nan_row[1]));
    EXPECT_FALSE(std::isnan(nan_row[0]));
  }
}

// GELU (BERT's FFN) with the vector exp agrees with the tanh reference, in
// place and out of place, for lengths on and off the vector width and values
// far into both tails; NaN stays NaN.
TEST(RowKernels, GeluMatchesReference) {
  for (core::Isa isa : {core::Isa::kAvx2, core::Isa::kAvx512}) {
    const kernels::Kernels& k = kernels::for_isa(isa);
    if (k.isa != isa) continue;
    for (int64_t n : {1, 7, 8, 9, 17, 100, 3072}) {
      for (float spread : {0.5f, 3.0f, 30.0f, 300.0f}) {
        auto x = random_vec(n, 95 + static_cast<int>(n));
        for (auto& v : x) v *= spread;
        std::vector<float> got(static_cast<size_t>(n)), want(static_cast<size_t>(n)), in_place = x;
        k.gelu(n, x.data(), got.data());
        gelu(n, x.data(), want.data());
        k.gelu(n, in_place.data(), in_place.data());
        for (int64_t i = 0; i < n; ++i) {
          EXPECT_NEAR(got[i], want[i], 3e-6f * std::abs(want[i]) + 1e-6f) << "gelu x=" << x[i] << " " << core::isa_name(isa);
          EXPECT_EQ(in_place[i], got[i]) << "in place, n=" << n;
        }
      }
    }
    std::vector<float> row = {1.0f, NAN, -2.0f, 3.0f, -40.0f, 50.0f, 0.0f, -0.5f, 8.0f}, out(9);
    k.gelu(9, row.data(), out.data());
    EXPECT_TRUE(std::isnan(out[1]));
    EXPECT_EQ(out[6], 0.0f);
    EXPECT_NEAR(out[4], 0.0f, 1e-30f);   // far left tail: 0
    EXPECT_FLOAT_EQ(out[5], 50.0f);      // far right tail: x
  }
}

// Softmax never leaves a subnormal probability (the attention mix ran 45x
// slower over them): rows whose far values' true probabilities are subnormal,
// through exp or after the division by a large sum, hold 0 there and match
// the reference elsewhere; -inf gives exactly 0, NaN stays NaN.
TEST(RowKernels, SoftmaxFlushesSubnormalProbabilities) {
  for (core::Isa isa : {core::Isa::kAvx2, core::Isa::kAvx512}) {
    const kernels::Kernels& k = kernels::for_isa(isa);
    if (k.isa != isa) continue;
    for (int64_t n : {9, 33, 2000}) {
      std::vector<float> x(static_cast<size_t>(n));
      // Half the row at the maximum (a sum of n / 2), the rest spread from
      // 80 to 110 below it, one 70 below, one at -inf.
      for (int64_t i = 0; i < n; ++i) x[i] = i % 2 ? 5.0f : 5.0f - 80.0f - 30.0f * static_cast<float>(i) / n;
      x[0] = 5.0f - 70.0f;
      x[2] = -INFINITY;
      std::vector<float> got = x, want = x;
      k.softmax(got.data(), n);
      softmax(want.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        EXPECT_NE(std::fpclassify(got[i]), FP_SUBNORMAL) << core::isa_name(isa) << " n=" << n << " i=" << i;
        EXPECT_NEAR(got[i], want[i], 2e-6f * want[i] + 1e-37f) << core::isa_name(isa) << " n=" << n << " i=" << i;
      }
      EXPECT_EQ(got[2], 0.0f);
      EXPECT_GT(got[0], 0.0f) << "70 below the maximum is a normal probability, n=" << n;
      x[4] = NAN;
      k.softmax(x.data(), n);
      EXPECT_TRUE(std::isnan(x[4])) << core::isa_name(isa);
    }
  }
}

}  // namespace
}  // namespace hearth::tensor

namespace hearth::tensor {
namespace {

TEST(AttentionKernels, FastVersionsMatchReference) {
  for (core::Isa isa : {core::Isa::kAvx2, core::Isa::kAvx512}) {
    const kernels::Kernels& k = kernels::for_isa(isa);
    if (k.isa != isa) continue;
    for (int64_t n : {1, 7, 64, 128, 131}) {
      auto a = random_vec(n, 30), xf = random_vec(n, 31);
      std::vector<uint16_t> x(n);
      float_to_f16(xf.data(), x.data(), n);
      EXPECT_NEAR(k.dot_f32_f16(n, a.data(), x.data()), dot_f32_f16(n, a.data(), x.data()), 1e-4 * n) << n;
      std::vector<float> y1 = a, y2 = a;
      k.axpy_f16(n, 0.37f, x.data(), y1.data());
      axpy_f16(n, 0.37f, x.data(), y2.data());
      for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y1[i], y2[i], 1e-5) << n;
    }
  }
}

// Grouped attention: scores over blocked keys and the probability-weighted
// mix of V rows agree with the reference for head sizes on and off the fast
// paths (AVX2 mix: hd % 8; AVX-512 mix: 64, then 32 or 16 at a time; AVX2:
// at most 256), group
// sizes 1..32 (the AVX-512 scores take 8 heads per pass, more than 8 in
// groups of at most 6 over 64 positions), lengths on and off the 16-position
// key blocks and the 64-position steps, and strided V rows.
TEST(AttentionKernels, GroupedScoresAndMixMatchReference) {
  for (core::Isa isa : {core::Isa::kAvx2, core::Isa::kAvx512}) {
    const kernels::Kernels& k = kernels::for_isa(isa);
    if (k.isa != isa) continue;
    for (int64_t hd : {8, 16, 32, 48, 64, 80, 100, 128, 256, 264}) {
      for (int g : {1, 3, 5, 8, 12, 29, 32}) {
        for (int64_t n_kv : {1, 5, 16, 37, 48, 64, 70, 130}) {
          const size_t kv_stride = static_cast<size_t>(hd * 3);  // V rows of 3 KV heads; use the middle one
          auto qf = random_vec(hd * g, 80), kf = random_vec(hd * n_kv, 81),
               vf = random_vec(static_cast<int64_t>(kv_stride) * n_kv, 82), pf = random_vec(g * n_kv, 83);
          // Keys in the cache's blocks (tensor/kv_layout.h); the padding past
          // n_kv holds NaN, which must not reach the scores.
          std::vector<uint16_t> kh(static_cast<size_t>(k_positions(n_kv) * hd), 0x7e00), vh(vf.size()), key(hd);
          for (int64_t j = 0; j < n_kv; ++j) {
            float_to_f16(kf.data() + j * hd, key.data(), hd);
            store_k(hd, key.data(), j, kh.data());
          }
          float_to_f16(vf.data(), vh.data(), static_cast<int64_t>(vf.size()));
          const size_t ld = static_cast<size_t>(n_kv) + 3;
          std::vector<float> s1(g * ld, -7.f), s2(g * ld, -7.f);
          k.attn_scores_f16(hd, g, qf.data(), kh.data(), n_kv, 0.125f, s1.data(), ld);
          attn_scores_f16(hd, g, qf.data(), kh.data(), n_kv, 0.125f, s2.data(), ld);
          for (size_t i = 0; i < s1.size(); ++i) EXPECT_NEAR(s1[i], s2[i], 1e-5 * hd) << "scores hd=" << hd << " g=" << g;
          // The reference against a plain dot product over the key rows.
          for (int h = 0; h < g; ++h)
            for (int64_t j = 0; j < n_kv; ++j) {
              float dot = 0;
              for (int64_t i = 0; i < hd; ++i) dot += qf[h * hd + i] * fp16_to_f32(kh[k_index(hd, j, i)]);
              EXPECT_FLOAT_EQ(s2[h * ld + j], dot * 0.125f);
              EXPECT_EQ(kh[k_index(hd, j, 5 % hd)], f32_to_fp16(kf[j * hd + 5 % hd]));
            }
          std::vector<float> o1(hd * g, 99.f), o2(hd * g, -99.f);
          k.attn_mix_f16(hd, g, pf.data(), static_cast<size_t>(n_kv), vh.data() + hd, kv_stride, n_kv, o1.data());
          attn_mix_f16(hd, g, pf.data(), static_cast<size_t>(n_kv), vh.data() + hd, kv_stride, n_kv, o2.data());
          for (size_t i = 0; i < o1.size(); ++i) EXPECT_NEAR(o1[i], o2[i], 1e-5 * n_kv) << "mix hd=" << hd << " g=" << g;
        }
      }
    }
  }
}

// The Q8_0 cache's kernels against their references, for head sizes of
// whole blocks (the AVX-512 mix's fast path and the AVX2 one), group sizes
// across the 8-head passes and partial blocks; padding keys carry NaN
// scales, which must not reach the scores.
TEST(AttentionKernels, Q8CacheScoresAndMixMatchReference) {
  for (core::Isa isa : {core::Isa::kAvx2, core::Isa::kAvx512}) {
    const kernels::Kernels& k = kernels::for_isa(isa);
    if (k.isa != isa) continue;
    for (int64_t hd : {32, 64, 96, 128, 256, 288}) {
      for (int g : {1, 3, 5, 8, 12}) {
        for (int64_t n_kv : {1, 5, 16, 37, 48}) {
          const size_t row = kv_row_bytes(KvType::kQ8_0, hd), v_stride = 3 * row;  // rows of 3 KV heads
          auto qf = random_vec(hd * g, 90), kf = random_vec(hd * n_kv, 91), vf = random_vec(3 * hd * n_kv, 92),
               pf = random_vec(g * n_kv, 93);
          std::vector<uint8_t> kh(kv_head_bytes(KvType::kQ8_0, hd, n_kv), 0), vh(v_stride * static_cast<size_t>(n_kv));
          for (int64_t b = 0; b < k_positions(n_kv) / kKBlock; ++b) {
            auto* sc = const_cast<uint16_t*>(q8_k_scales(kh.data(), hd, b));
            for (int64_t x = 0; x < hd / kQK * kKBlock; ++x) sc[x] = 0x7e00;
          }
          std::vector<BlockQ8_0> key(static_cast<size_t>(hd / kQK));
          for (int64_t j = 0; j < n_kv; ++j) {
            quantize_q8_0(kf.data() + j * hd, key.data(), hd);
            store_k_q8(hd, key.data(), j, kh.data());
            for (int c = 0; c < 3; ++c) quantize_q8_0(vf.data() + (3 * j + c) * hd, vh.data() + j * v_stride + c * row, hd);
          }
          const size_t ld = static_cast<size_t>(n_kv) + 3;
          std::vector<float> s1(g * ld, -7.f), s2(g * ld, -7.f);
          k.attn_scores_q8(hd, g, qf.data(), kh.data(), n_kv, 0.125f, s1.data(), ld);
          attn_scores_q8(hd, g, qf.data(), kh.data(), n_kv, 0.125f, s2.data(), ld);
          for (size_t i = 0; i < s1.size(); ++i) EXPECT_NEAR(s1[i], s2[i], 1e-5 * hd) << "scores hd=" << hd << " g=" << g;
          // The reference against a dot product over the dequantized keys
          // and the query heads rounded through Q8_0.
          std::vector<float> kd(static_cast<size_t>(hd)), qd(qf.size());
          for (int h = 0; h < g; ++h) {
            quantize_q8_0(qf.data() + h * hd, key.data(), hd);
            dequantize_q8_0(key.data(), qd.data() + h * hd, hd);
          }
          for (int64_t j = 0; j < n_kv; ++j) {
            quantize_q8_0(kf.data() + j * hd, key.data(), hd);
            dequantize_q8_0(key.data(), kd.data(), hd);
            for (int h = 0; h < g; ++h) {
              float dot = 0;
              for (int64_t i = 0; i < hd; ++i) dot += qd[h * hd + i] * kd[i];
              EXPECT_NEAR(s2[h * ld + j], dot * 0.125f, 1e-5f * hd);
            }
          }
          std::vector<float> o1(hd * g, 99.f), o2(hd * g, -99.f);
          k.attn_mix_q8(hd, g, pf.data(), static_cast<size_t>(n_kv), vh.data() + row, v_stride, n_kv, o1.data());
          attn_mix_q8(hd, g, pf.data(), static_cast<size_t>(n_kv), vh.data() + row, v_stride, n_kv, o2.data());
          for (size_t i = 0; i < o1.size(); ++i) EXPECT_NEAR(o1[i], o2[i], 1e-5 * n_kv) << "mix hd=" << hd << " g=" << g;
        }
      }
    }
  }
}

}  // namespace
}  // namespace hearth::tensor

namespace hearth::tensor {
namespace {

// The fast Q8_0 activation quantizers round exactly like the reference,
// including ties (k + 0.5 rounds away from zero) and values just below a tie.
TEST(ActivationQuantizer, Q8_0RoundingTiesMatchReference) {
  std::vector<float> x;
  x.push_back(127.f);  // amax: d = 1, so x·id = x
  for (float v : {0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 126.5f, -126.5f, 0.49999997f, -0.49999997f,
                  1.4999999f, -1.4999999f, 0.f, -0.f, 3.f, 1e-30f, -1e-30f})
    x.push_back(v);
  while (x.size() % 32 != 0) x.push_back(static_cast<float>(x.size()) * 0.25f - 7.f);
  std::vector<float> zeros(32, 0.f);  // an all-zero block: d = 0
  x.insert(x.end(), zeros.begin(), zeros.end());
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> want(row_bytes(DType::kQ8_0, n));
  type_ops(DType::kQ8_0).from_float(x.data(), want.data(), n);
  for (core::Isa isa : {core::Isa::kAvx2, core::Isa::kAvx512}) {
    const kernels::Kernels& k = kernels::for_isa(isa);
    std::vector<uint8_t> got(want.size());
    k.quantize(DType::kQ8_0)(x.data(), got.data(), n);
    EXPECT_EQ(got, want) << core::isa_name(isa);
  }
}

// Q8_K: the scale comes from the first element of largest magnitude (so +m
// before -m differs from -m before +m), values round half to even, and the
// block sums follow.
TEST(ActivationQuantizer, Q8_KMatchesReference) {
  std::vector<float> x(256 * 5);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (auto& v : x) v = u(rng);
  x[10] = 2.f, x[200] = -2.f;        // block 0: +2 first
  x[256 + 3] = -2.f, x[256 + 9] = 2.f;  // block 1: -2 first
  for (int j = 0; j < 256; ++j) x[512 + j] = 0.f;  // block 2: zeros
  x[768] = -127.f;
  for (int j = 1; j < 256; ++j) x[768 + j] = static_cast<float>(j % 7) - 3.5f;  // d = 1: exact .5 ties
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> want(row_bytes(DType::kQ8_K, n));
  quantize_q8_k(x.data(), want.data(), n);
  for (core::Isa isa : {core::Isa::kAvx2, core::Isa::kAvx512}) {
    const kernels::Kernels& k = kernels::for_isa(isa);
    std::vector<uint8_t> got(want.size());
    k.quantize(DType::kQ8_K)(x.data(), got.data(), n);
    EXPECT_EQ(got, want) << core::isa_name(isa);
  }
}

// The fused quantize + prepare for interleaved products gives the bytes of
// the reference's two steps, for every type with an interleaved layout, for
// row lengths that leave a partial group of 16 blocks, with blocks of very
// different magnitude (each block's own scale and sums), a zero block, ties,
// and the Q8_K first-largest rule.
TEST(ActivationQuantizer, FusedInterleavedPreparationMatchesReference) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ8_0,
                  DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    const int64_t qk = t == DType::kF32 || t == DType::kF16 || t == DType::kBF16 ? 16 : dtype_info(t).block_size;
    for (int64_t nb : {1, 15, 16, 17, 22, 64, 176}) {
      const int64_t n = nb * qk;
      std::vector<float> x(static_cast<size_t>(n));
      for (int64_t b = 0; b < nb; ++b) {
        const float scale = std::ldexp(1.f, static_cast<int>(b % 11) - 5);
        for (int64_t j = 0; j < qk; ++j) x[b * qk + j] = scale * nd(rng);
      }
      if (nb > 2)
        for (int64_t j = 0; j < qk; ++j) x[qk + j] = 0.f;  // block 1: zeros
      if (nb > 3) {
        x[3 * qk] = 127.f;  // block 3: d = 1, exact .5 ties
        for (int64_t j = 1; j < qk; ++j) x[3 * qk + j] = static_cast<float>(j % 9) - 4.5f;
        x[3 * qk + 5] = -127.f;  // a later element of the same magnitude, other sign
      }
      std::vector<uint8_t> want(x16_act_bytes(t, n));
      x16_quantize_act(t, x.data(), n, want.data());
      // The reference equals quantize-then-prepare over the whole row.
      std::vector<uint8_t> xq(row_bytes(type_ops(t).vec_dot_type, n)), two_step(want.size());
      type_ops(type_ops(t).vec_dot_type).from_float(x.data(), xq.data(), n);
      x16_prepare_act(t, xq.data(), n, two_step.data());
      ASSERT_EQ(two_step, want) << dtype_name(t) << " n=" << n;
      for (core::Isa isa : {core::Isa::kScalar, core::Isa::kAvx2, core::Isa::kAvx512}) {
        auto fused = kernels::for_isa(isa).x16_act[static_cast<int>(t)];
        if (!fused) continue;
        std::vector<uint8_t> got(want.size());
        fused(x.data(), n, got.data());
        EXPECT_EQ(got, want) << core::isa_name(isa) << " " << dtype_name(t) << " n=" << n;
      }
    }
  }
}

}  // namespace
}  // namespace hearth::tensor
