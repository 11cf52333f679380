// Access to ../shared (models, references) for tests: the one setting is the
// HEARTH_SHARED environment variable (default: ../shared from the source
// root, baked in at configure time). Missing data is a test failure, not a skip.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace hearth::test {

inline std::string shared_dir() {
  if (const char* e = std::getenv("HEARTH_SHARED")) return e;
  return HEARTH_DEFAULT_SHARED;
}

// Path of a file under shared/; fails the current test when it is missing.
inline std::string shared_path(const std::string& rel) {
  std::string p = shared_dir() + "/" + rel;
  EXPECT_TRUE(std::filesystem::exists(p)) << "missing shared test data: " << p
                                          << " (set HEARTH_SHARED to the shared/ folder)";
  return p;
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

inline std::vector<float> read_f32(const std::string& path) {
  std::vector<uint8_t> b = read_bytes(path);
  std::vector<float> f(b.size() / 4);
  std::memcpy(f.data(), b.data(), f.size() * 4);
  return f;
}

struct LogitAgreement {
  double mean_kl = 0;
  double top1 = 0;
};

// Per row: KL(reference || ours) of the log-softmaxes, and argmax agreement.
inline LogitAgreement compare_logits(const std::vector<float>& ref, const std::vector<float>& ours, int64_t n_vocab) {
  LogitAgreement a;
  const int64_t rows = static_cast<int64_t>(ref.size()) / n_vocab;
  auto log_softmax = [&](const float* x, std::vector<double>& out) {
    double mx = x[0];
    for (int64_t i = 1; i < n_vocab; ++i) mx = std::max(mx, static_cast<double>(x[i]));
    double s = 0;
    for (int64_t i = 0; i < n_vocab; ++i) s += std::exp(x[i] - mx);
    double lse = mx + std::log(s);
    out.resize(n_vocab);
    for (int64_t i = 0; i < n_vocab; ++i) out[i] = x[i] - lse;
  };
  std::vector<double> lr, lo;
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = ref.data() + r * n_vocab;
    const float* y = ours.data() + r * n_vocab;
    log_softmax(x, lr);
    log_softmax(y, lo);
    double kl = 0;
    int64_t ar = 0, ao = 0;
    for (int64_t i = 0; i < n_vocab; ++i) {
      kl += std::exp(lr[i]) * (lr[i] - lo[i]);
      if (x[i] > x[ar]) ar = i;
      if (y[i] > y[ao]) ao = i;
    }
    a.mean_kl += kl;
    a.top1 += ar == ao;
  }
  a.mean_kl /= rows;
  a.top1 /= rows;
  return a;
}

}  // namespace hearth::test
