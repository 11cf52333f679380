// Load-time repacking (model/repack.h): weights read from a real GGUF file are
// interleaved 16 rows at a time, norms are copied, and the matrix products
// over the repacked weights (including the rows past the last whole group and
// batches of several activation rows) agree with the scalar reference; the
// BERT embedder gives the same embeddings repacked or not.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "common/shared_data.h"
#include "core/thread_pool.h"
#include "gguf/file.h"
#include "gguf/writer.h"
#include "kernels/kernels.h"
#include "model/bert.h"
#include "model/matmul.h"
#include "model/model.h"
#include "model/quantize.h"
#include "model/repack.h"
#include "tensor/type_ops.h"

namespace hearth::model {
namespace {

std::vector<uint8_t> quantized(DType t, int64_t n_in, int64_t n_out, uint32_t seed, std::vector<float>* floats) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  floats->resize(static_cast<size_t>(n_in * n_out));
  for (auto& v : *floats) v = d(rng);
  const size_t rb = row_bytes(t, n_in);
  std::vector<uint8_t> out(rb * static_cast<size_t>(n_out));
  for (int64_t r = 0; r < n_out; ++r) tensor::type_ops(t).from_float(floats->data() + r * n_in, out.data() + r * rb, n_in);
  return out;
}

Weight bind(const gguf::File& f, const std::string& name) {
  const gguf::TensorInfo* t = f.tensor(name);
  Weight w;
  w.name = name;
  w.type = t->type;
  w.n_in = t->ne[0];
  w.n_out = t->ne[1];
  w.data = t->data;
  w.row_bytes = row_bytes(t->type, w.n_in);
  return w;
}

class RepackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() / ("hearth_repack_test_" + std::to_string(::getpid()) + ".gguf");
    gguf::Writer w;
    w.set("general.architecture", gguf::Value::of_string("test"));
    std::vector<float> f;
    ASSERT_TRUE(w.add_tensor("a", DType::kQ4_0, {96, 37}, quantized(DType::kQ4_0, 96, 37, 1, &f)).ok());
    ASSERT_TRUE(w.add_tensor("a2", DType::kQ4_0, {96, 50}, quantized(DType::kQ4_0, 96, 50, 6, &f)).ok());
    ASSERT_TRUE(w.add_tensor("b", DType::kQ8_0, {64, 48}, quantized(DType::kQ8_0, 64, 48, 2, &f)).ok());
    ASSERT_TRUE(w.add_tensor("c", DType::kQ4_1, {256, 12}, quantized(DType::kQ4_1, 256, 12, 3, &f)).ok());
    ASSERT_TRUE(w.add_tensor("five", DType::kQ5_K, {512, 19}, quantized(DType::kQ5_K, 512, 19, 8, &f)).ok());
    ASSERT_TRUE(w.add_tensor("k", DType::kQ4_K, {512, 21}, quantized(DType::kQ4_K, 512, 21, 4, &f)).ok());
    ASSERT_TRUE(w.add_tensor("six", DType::kQ6_K, {256, 35}, quantized(DType::kQ6_K, 256, 35, 5, &f)).ok());
    ASSERT_TRUE(w.add_tensor("six512", DType::kQ6_K, {512, 40}, quantized(DType::kQ6_K, 512, 40, 7, &f)).ok());
    std::vector<uint8_t> norm(64 * 4);
    for (size_t i = 0; i < norm.size(); ++i) norm[i] = static_cast<uint8_t>(i * 7);
    ASSERT_TRUE(w.add_tensor("n", DType::kF32, {64}, norm).ok());
    ASSERT_TRUE(w.write_file(path_.string()).ok());
    auto file = gguf::File::open(path_.string());
    ASSERT_TRUE(file.ok()) << file.status().message();
    file_ = std::make_unique<gguf::File>(std::move(*file));
  }
  void TearDown() override { std::filesystem::remove(path_); }

  std::filesystem::path path_;
  std::unique_ptr<gguf::File> file_;
};

TEST_F(RepackTest, InterleavesCopiesAndMatchesTheReference) {
  const kernels::Kernels& k = kernels::for_isa(core::Isa::kAvx512);
  Weight a = bind(*file_, "a"), b = bind(*file_, "b"), c = bind(*file_, "c"), kw = bind(*file_, "k"),
         six = bind(*file_, "six"), five = bind(*file_, "five"), n = bind(*file_, "n");
  n.n_out = 1;
  const Weight a0 = a, n0 = n;
  Weight a_again = a;  // the same tensor twice (tied embeddings) is repacked once
  std::vector<Weight*> ws{&a, &b, &c, &kw, &six, &five, &n, &a_again};
  auto mem = repack_weights(ws, *file_, k, 2);
  ASSERT_TRUE(mem.ok()) << mem.status().message();

  // The norm is copied out of the mapping, byte for byte.
  EXPECT_NE(n.data, n0.data);
  EXPECT_TRUE(std::equal(n.data, n.data + n.row_bytes, n0.data));
  // Fewer rows than one group of 16: no interleaved layout, copied verbatim
  // when others are interleaved (so the forward pass no longer reads the
  // mapping).
  EXPECT_EQ(c.x16, nullptr);
  const size_t c_bytes = static_cast<size_t>(c.n_out) * c.row_bytes;
  EXPECT_TRUE(std::equal(c.data, c.data + c_bytes, bind(*file_, "c").data));
  const bool has_x16 = k.gemm_x16[static_cast<int>(DType::kQ4_0)] != nullptr;
  if (has_x16) {
    EXPECT_EQ(a.x16_rows, 32);  // 37 rows: two whole groups, 5 rows left in the GGUF layout
    EXPECT_EQ(b.x16_rows, 48);
    EXPECT_EQ(kw.x16_rows, 16);
    EXPECT_EQ(six.x16_rows, 32);
    EXPECT_EQ(five.x16_rows, 16);  // 19 rows: one group, 3 rows left in the GGUF layout
    EXPECT_EQ(a_again.x16, a.x16);
    EXPECT_NE(c.data, bind(*file_, "c").data);
  } else {
    EXPECT_EQ(a.x16, nullptr);
  }
  EXPECT_TRUE(std::equal(a.data, a.data + 37 * a.row_bytes, a0.data));  // the GGUF layout stays usable

  core::ThreadPool pool(2);
  MatMul mm;
  for (const Weight* w : {&a, &b, &kw, &six, &five, &c}) {
    for (int64_t rows : {1, 3, 9, 17}) {
      std::mt19937 rng(static_cast<uint32_t>(rows));
      std::normal_distribution<float> d;
      std::vector<float> x(static_cast<size_t>(rows * w->n_in)), y(static_cast<size_t>(rows * w->n_out), -1e9f);
      for (auto& v : x) v = d(rng);
      mm.run(*w, x.data(), rows, y.data(), pool, k);
      const tensor::TypeOps& ops = tensor::type_ops(w->type);
      std::vector<uint8_t> xq(row_bytes(ops.vec_dot_type, w->n_in));
      for (int64_t r = 0; r < rows; ++r) {
        tensor::type_ops(ops.vec_dot_type).from_float(x.data() + r * w->n_in, xq.data(), w->n_in);
        for (int64_t o = 0; o < w->n_out; ++o) {
          const float want = ops.vec_dot(w->n_in, w->row(o), xq.data());
          EXPECT_NEAR(y[static_cast<size_t>(r * w->n_out + o)], want, 1e-3 + 1e-4 * std::fabs(want))
              << w->name << " rows=" << rows << " r=" << r << " o=" << o;
        }
      }
    }
  }
}

// Products of one input run together (Q/K/V, gate/up) give exactly what
// separate runs give, fused (same type and input size) or not.
TEST_F(RepackTest, SharedInputProductsMatchSeparateRuns) {
  const kernels::Kernels& k = kernels::for_isa(core::Isa::kAvx512);
  Weight a = bind(*file_, "a"), a2 = bind(*file_, "a2"), a3 = bind(*file_, "a"), k4 = bind(*file_, "k"),
         k6 = bind(*file_, "six512");
  std::vector<Weight*> ws{&a, &a2, &a3, &k4, &k6};
  auto mem = repack_weights(ws, *file_, k, 1);
  ASSERT_TRUE(mem.ok()) << mem.status().message();
  core::ThreadPool pool(2);
  MatMul mm;
  for (int64_t rows : {1, 5, 12}) {
    std::mt19937 rng(static_cast<uint32_t>(rows));
    std::normal_distribution<float> d;
    std::vector<float> x(static_cast<size_t>(rows * 512));
    for (auto& v : x) v = d(rng);
    std::vector<float> y1(static_cast<size_t>(rows * 37)), y2(static_cast<size_t>(rows * 50)), y3(y1.size());
    std::vector<float> s1(y1.size()), s2(y2.size()), s3(y1.size());
    mm.run(a, x.data(), rows, s1.data(), pool, k);
    mm.run(a2, x.data(), rows, s2.data(), pool, k);
    mm.run(a3, x.data(), rows, s3.data(), pool, k);
    const MatMul::Output fused[] = {{&a, y1.data()}, {&a2, y2.data()}, {&a3, y3.data()}};
    mm.run_shared(fused, x.data(), rows, pool, k);
    EXPECT_EQ(y1, s1) << "rows=" << rows;
    EXPECT_EQ(y2, s2) << "rows=" << rows;
    EXPECT_EQ(y3, s3) << "rows=" << rows;
    // Different types and input sizes: each runs on its own.
    std::vector<float> yk(static_cast<size_t>(rows * 21)), sk(yk.size());
    mm.run(k4, x.data(), rows, sk.data(), pool, k);
    const MatMul::Output mixed[] = {{&a2, y2.data()}, {&k4, yk.data()}};
    mm.run_shared(mixed, x.data(), rows, pool, k);
    EXPECT_EQ(y2, s2) << "rows=" << rows;
    EXPECT_EQ(yk, sk) << "rows=" << rows;
    // Same-type products around another type run as one fused group plus
    // the other, same results.
    std::vector<float> y1b(y1.size(), -1.f), y2b(y2.size(), -1.f), ykb(yk.size(), -1.f);
    const MatMul::Output around[] = {{&a2, y2b.data()}, {&k4, ykb.data()}, {&a, y1b.data()}};
    mm.run_shared(around, x.data(), rows, pool, k);
    EXPECT_EQ(y2b, s2) << "rows=" << rows;
    EXPECT_EQ(ykb, sk) << "rows=" << rows;
    EXPECT_EQ(y1b, s1) << "rows=" << rows;
    // Q4_K and Q6_K share prepared activations (Q4_K_M's Q/K/V): one section.
    std::vector<float> y6(static_cast<size_t>(rows * 40)), s6(y6.size()), ykc(yk.size());
    mm.run(k6, x.data(), rows, s6.data(), pool, k);
    const MatMul::Output kq[] = {{&k4, ykc.data()}, {&k6, y6.data()}};
    mm.run_shared(kq, x.data(), rows, pool, k);
    EXPECT_EQ(ykc, sk) << "rows=" << rows;
    EXPECT_EQ(y6, s6) << "rows=" << rows;
  }
}

TEST_F(RepackTest, CopyOutsideTheFileIsAnError) {
  const gguf::TensorInfo* t = file_->tensor("n");
  std::vector<uint8_t> buf(1 << 16);
  EXPECT_TRUE(file_->copy_bytes(t->data, 16, buf.data()).ok());
  EXPECT_EQ(std::memcmp(buf.data(), t->data, 16), 0);
  Status st = file_->copy_bytes(t->data, buf.size() * 1000, buf.data());
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("outside the file"), std::string::npos) << st.message();
}

// Read-ahead is advisory: inside the file it leaves the bytes as they are,
// and ranges that leave the file (or bytes that are not the file's) are
// ignored rather than clipped into someone else's memory.
TEST_F(RepackTest, ReadAheadIsAdvisoryAndBoundsChecked) {
  const gguf::TensorInfo* t = file_->tensor("n");
  file_->read_ahead(t->data, 16);
  file_->read_ahead(t->data, size_t(1) << 40);
  const uint8_t outside[4] = {};
  file_->read_ahead(outside, sizeof outside);
  std::vector<uint8_t> buf(16);
  ASSERT_TRUE(file_->copy_bytes(t->data, 16, buf.data()).ok());
  EXPECT_EQ(std::memcmp(buf.data(), t->data, 16), 0);
}

// The BERT embedder repacks too: a Q8_0 quantization of the shared BERT model
// embeds the same with and without repacking.
TEST(RepackBert, EmbeddingsMatchWithoutRepacking) {
  const auto path = std::filesystem::temp_directory_path() / ("hearth_bert_q8_" + std::to_string(::getpid()) + ".gguf");
  QuantizeOptions opts;
  opts.type = "Q8_0";
  opts.pure = true;
  ASSERT_TRUE(quantize_file(test::shared_path("models/synth-bert-wordpiece-F16.gguf"), path.string(), opts).ok());
  auto embed = [&](bool repack) {
    ::setenv("HEARTH_REPACK", repack ? "1" : "0", 1);
    auto f = gguf::File::open(path.string());
    EXPECT_TRUE(f.ok());
    auto m = BertModel::from_file(std::make_shared<gguf::File>(std::move(f.value())));
    EXPECT_TRUE(m.ok()) << m.status().message();
    Workspace ws(2);
    const int32_t tokens[] = {101, 2023, 2003, 1037, 3231, 102};
    auto e = m.value()->embed(ws, tokens, Pooling::kMean);
    EXPECT_TRUE(e.ok());
    return e.value();
  };
  const std::vector<float> with = embed(true), without = embed(false);
  ::unsetenv("HEARTH_REPACK");
  std::filesystem::remove(path);
  ASSERT_EQ(with.size(), without.size());
  for (size_t i = 0; i < with.size(); ++i) EXPECT_NEAR(with[i], without[i], 1e-4) << i;
}

// What a worker reads ahead of the next product (warm_next_product): the
// start of its share under the work ranges' split, inside one weight, at most
// the cap.
TEST(WarmNextProduct, FirstShareFollowsTheWorkSplit) {
  std::vector<uint8_t> buf(10 * 100 + 6 * 50);
  Weight a, b;
  a.x16 = buf.data();
  a.x16_rows = 10 * 16 + 5;  // 10 whole groups; the 5 rows left are not interleaved
  a.x16_group_bytes = 100;
  b.x16 = buf.data() + 1000;
  b.x16_rows = 6 * 16;
  b.x16_group_bytes = 50;
  const Weight* ws[] = {&a, &b};
  auto share = [&](int t, int n, size_t cap) {
    const std::span<const uint8_t> s = first_share(ws, t, n, cap);
    return std::make_pair(s.empty() ? -1L : static_cast<long>(s.data() - buf.data()), s.size());
  };
  using P = std::pair<long, size_t>;
  // 16 groups over 2 threads: 8 each; thread 1 starts at a's group 8, whose
  // part of the share is a's last 2 groups.
  EXPECT_EQ(share(0, 2, 1 << 20), P(0, 800));
  EXPECT_EQ(share(1, 2, 1 << 20), P(800, 200));
  EXPECT_EQ(share(1, 2, 150), P(800, 150));
  // 3 threads: groups [0, 5), [5, 10), [10, 16): thread 2 starts at b's first group.
  EXPECT_EQ(share(1, 3, 1 << 20), P(500, 500));
  EXPECT_EQ(share(2, 3, 1 << 20), P(1000, 300));
  // More threads than groups: some have no share.
  const Weight* one[] = {&b};
  EXPECT_TRUE(first_share(one, 0, 8, 1 << 20).empty());
  EXPECT_EQ(first_share(one, 7, 8, 1 << 20).size(), 50u);
  EXPECT_TRUE(first_share(ws, 2, 2, 1 << 20).empty());  // no such thread
  EXPECT_TRUE(first_share({}, 0, 2, 1 << 20).empty());
}

TEST(RepackSetting, EnvironmentTurnsItOff) {
  ::unsetenv("HEARTH_REPACK");
  EXPECT_TRUE(repack_enabled());
  ::setenv("HEARTH_REPACK", "0", 1);
  EXPECT_FALSE(repack_enabled());
  ::setenv("HEARTH_REPACK", "off", 1);
  EXPECT_FALSE(repack_enabled());
  ::setenv("HEARTH_REPACK", "1", 1);
  EXPECT_TRUE(repack_enabled());
  ::unsetenv("HEARTH_REPACK");
}

}  // namespace
}  // namespace hearth::model
