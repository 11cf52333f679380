// GGUF reader and writer: round trip, every value type, and one handcrafted
// corrupt file per class of damage (each must fail with a message naming it).
#include <gtest/gtest.h>

#include <cstring>

#include "gguf/file.h"
#include "gguf/writer.h"

namespace hearth::gguf {
namespace {

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

Writer sample_writer() {
  Writer w;
  w.set("general.architecture", Value::of_string("llama"));
  w.set("u32", Value::of_u32(7));
  w.set("i32", Value::of_i32(-3));
  w.set("f32", Value::of_f32(1.5f));
  w.set("flag", Value::of_bool(true));
  w.set("u64", Value::of_u64(1ull << 40));
  w.set("names", Value::of_strings({"a", "", "ccc"}));
  w.set("scores", Value::of_f32s({0.5f, -1.f}));
  Value nested;
  nested.type = ValueType::kArray;
  nested.arr = std::make_shared<Array>();
  nested.arr->elem_type = ValueType::kArray;
  nested.arr->count = 2;
  nested.arr->arrays = {Value::of_i32s({1, 2}), Value::of_strings({"x"})};
  w.set("nested", nested);
  EXPECT_TRUE(w.add_tensor("a", DType::kF32, {4, 2}, f32_bytes({1, 2, 3, 4, 5, 6, 7, 8})).ok());
  EXPECT_TRUE(w.add_tensor("b", DType::kF32, {3}, f32_bytes({9, 10, 11})).ok());
  return w;
}

Result<File> parse(const std::vector<uint8_t>& b) { return File::parse(b.data(), b.size(), "test.gguf"); }

void expect_error(const std::vector<uint8_t>& b, const std::string& fragment) {
  auto f = parse(b);
  ASSERT_FALSE(f.ok()) << "expected an error containing '" << fragment << "'";
  EXPECT_NE(f.status().message().find(fragment), std::string::npos) << f.status().to_string();
}

TEST(Gguf, WriterRoundTripKeepsMetadataAndTensors) {
  Writer w = sample_writer();
  std::vector<uint8_t> bytes = w.to_bytes();
  auto f = parse(bytes);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->metadata().size(), 9u);
  EXPECT_EQ(f->get_string("general.architecture").value(), "llama");
  EXPECT_EQ(f->get_int("u32").value(), 7);
  EXPECT_EQ(f->get_int("i32").value(), -3);
  EXPECT_EQ(f->get_float("f32").value(), 1.5);
  EXPECT_TRUE(f->get_bool("flag").value());
  EXPECT_EQ(f->get_int("u64").value(), 1ll << 40);
  EXPECT_EQ(f->find("names")->arr->strings, (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(f->find("scores")->arr->get_float(1), -1.0);
  const Value* nested = f->find("nested");
  ASSERT_EQ(nested->arr->arrays.size(), 2u);
  EXPECT_EQ(nested->arr->arrays[0].arr->get_int(1), 2);
  EXPECT_EQ(nested->arr->arrays[1].arr->strings[0], "x");
  const TensorInfo* a = f->tensor("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->ne[0], 4);
  EXPECT_EQ(a->ne[1], 2);
  EXPECT_EQ(a->data - bytes.data(), static_cast<ptrdiff_t>(f->data_offset()));
  float v;
  std::memcpy(&v, f->tensor("b")->data + 8, 4);
  EXPECT_EQ(v, 11.f);
  EXPECT_EQ((f->tensor("b")->data - bytes.data()) % 32, 0);
  // Writing what was read gives the same bytes.
  Writer w2;
  for (const auto& [k, val] : f->metadata()) w2.set(k, val);
  for (const auto& t : f->tensors())
    ASSERT_TRUE(w2.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne, t.ne + t.n_dims),
                              std::vector<uint8_t>(t.data, t.data + t.n_bytes)).ok());
  EXPECT_EQ(w2.to_bytes(), bytes);
}

TEST(Gguf, WriterRejectsBadTensors) {
  Writer w;
  EXPECT_TRUE(w.add_tensor("t", DType::kF32, {2}, f32_bytes({1, 2})).ok());
  EXPECT_FALSE(w.add_tensor("t", DType::kF32, {2}, f32_bytes({1, 2})).ok());
  EXPECT_FALSE(w.add_tensor("u", DType::kF32, {3}, f32_bytes({1, 2})).ok());
  EXPECT_FALSE(w.add_tensor("q", DType::kQ4_0, {16}, std::vector<uint8_t>(9)).ok());
}

// Byte offsets inside sample_writer()'s file, found by parsing it.
struct Layout {
  std::vector<uint8_t> bytes;
  size_t first_key_len;  // offset of the first key's length field
  size_t tensor_info;    // offset of the first tensor info
};

Layout layout() {
  Layout l;
  l.bytes = sample_writer().to_bytes();
  l.first_key_len = 24;
  // The first tensor info starts after the last metadata value: search for
  // its name ("a" with length 1) followed by n_dims 2.
  for (size_t i = 24; i + 13 < l.bytes.size(); ++i) {
    uint64_t len;
    uint32_t nd;
    std::memcpy(&len, &l.bytes[i], 8);
    std::memcpy(&nd, &l.bytes[i + 9], 4);
    if (len == 1 && l.bytes[i + 8] == 'a' && nd == 2) {
      l.tensor_info = i;
      break;
    }
  }
  return l;
}

template <class T>
void poke(std::vector<uint8_t>& b, size_t at, T v) {
  std::memcpy(&b[at], &v, sizeof(T));
}

TEST(GgufCorrupt, BadMagic) {
  auto b = layout().bytes;
  b[0] = 'X';
  expect_error(b, "bad magic");
}

TEST(GgufCorrupt, UnsupportedVersion) {
  auto b = layout().bytes;
  poke<uint32_t>(b, 4, 1);
  expect_error(b, "version 1");
  poke<uint32_t>(b, 4, 99);
  expect_error(b, "version 99");
}

TEST(GgufCorrupt, TruncatedAtEveryByteOfTheHeaderAndInfos) {
  Layout l = layout();
  auto full = parse(l.bytes);
  ASSERT_TRUE(full.ok());
  // Every prefix up to the end of the tensor data fails cleanly.
  for (size_t n = 0; n < l.bytes.size(); ++n) {
    std::vector<uint8_t> b(l.bytes.begin(), l.bytes.begin() + n);
    auto f = parse(b);
    EXPECT_FALSE(f.ok()) << "prefix of " << n << " bytes parsed";
  }
}

TEST(GgufCorrupt, AbsurdCounts) {
  auto b = layout().bytes;
  poke<uint64_t>(b, 8, 1ull << 60);
  expect_error(b, "tensor count");
  b = layout().bytes;
  poke<uint64_t>(b, 16, 1ull << 60);
  expect_error(b, "metadata count");
}

TEST(GgufCorrupt, StringLengthPastEof) {
  auto b = layout().bytes;
  poke<uint64_t>(b, 24, 60000);  // first key claims 60 kB, within the key cap
  expect_error(b, "past the end");
  poke<uint64_t>(b, 24, ~0ull);
  expect_error(b, "exceeds the limit");
}

TEST(GgufCorrupt, ArrayLengthPastEof) {
  Writer w;
  w.set("arr", Value::of_i32s({1, 2, 3}));
  auto b = w.to_bytes();
  // key len(8) + "arr"(3) + type(4) + elem type(4) => count at 24+8+3+4+4
  poke<uint64_t>(b, 24 + 8 + 3 + 4 + 4, 1ull << 40);
  expect_error(b, "does not fit");
}

TEST(GgufCorrupt, TensorOffsetOutOfRangeOrMisaligned) {
  Layout l = layout();
  size_t off_at = l.tensor_info + 8 + 1 + 4 + 16 + 4;  // name, n_dims, 2 dims, type
  auto b = l.bytes;
  poke<uint64_t>(b, off_at, 1ull << 30);
  expect_error(b, "outside the data section");
  b = l.bytes;
  poke<uint64_t>(b, off_at, 4);
  expect_error(b, "not aligned");
}

TEST(GgufCorrupt, ElementCountOverflow) {
  Layout l = layout();
  auto b = l.bytes;
  poke<uint64_t>(b, l.tensor_info + 8 + 1 + 4, 1ull << 40);
  poke<uint64_t>(b, l.tensor_info + 8 + 1 + 4 + 8, 1ull << 40);
  expect_error(b, "overflows");
}

TEST(GgufCorrupt, TooManyDimensions) {
  Layout l = layout();
  auto b = l.bytes;
  poke<uint32_t>(b, l.tensor_info + 8 + 1, 5);
  expect_error(b, "dimensions");
}

TEST(GgufCorrupt, UnknownTensorType) {
  Layout l = layout();
  auto b = l.bytes;
  poke<uint32_t>(b, l.tensor_info + 8 + 1 + 4 + 16, 77);
  expect_error(b, "unknown type id 77");
}

TEST(GgufCorrupt, UnknownValueType) {
  auto b = layout().bytes;
  // first key: "general.architecture" (20 bytes): type field at 24+8+20
  poke<uint32_t>(b, 24 + 8 + 20, 13);
  expect_error(b, "unknown value type 13");
}

TEST(GgufCorrupt, DuplicateKey) {
  Writer w;
  w.set("k1", Value::of_u32(1));
  w.set("k2", Value::of_u32(2));
  auto b = w.to_bytes();
  b[24 + 8 + 1] = '1';  // rename "k2" (second entry) to "k1"? first entry is k1.
  // second key starts after: 8 + 2 + 4 + 4 = 18 bytes
  b[24 + 18 + 8 + 1] = '1';
  expect_error(b, "duplicate metadata key 'k1'");
}

TEST(GgufCorrupt, DuplicateTensorName) {
  Writer w;
  ASSERT_TRUE(w.add_tensor("x", DType::kF32, {1}, f32_bytes({1})).ok());
  ASSERT_TRUE(w.add_tensor("y", DType::kF32, {1}, f32_bytes({2})).ok());
  auto b = w.to_bytes();
  for (size_t i = 24; i + 9 < b.size(); ++i) {
    uint64_t len;
    std::memcpy(&len, &b[i], 8);
    if (len == 1 && b[i + 8] == 'y') {
      b[i + 8] = 'x';
      break;
    }
  }
  expect_error(b, "duplicate tensor name 'x'");
}

TEST(GgufCorrupt, BadAlignmentAndBool) {
  Writer w;
  w.set("general.alignment", Value::of_u32(24));
  expect_error(w.to_bytes(), "power of two");
  Writer w2;
  w2.set("b", Value::of_bool(true));
  auto b = w2.to_bytes();
  b[24 + 8 + 1 + 4] = 7;  // the bool value byte
  expect_error(b, "not 0 or 1");
}

TEST(GgufCorrupt, RowNotMultipleOfBlock) {
  Writer w;
  ASSERT_TRUE(w.add_tensor("q", DType::kQ8_0, {32}, std::vector<uint8_t>(34)).ok());
  auto b = w.to_bytes();
  for (size_t i = 24; i + 13 < b.size(); ++i) {
    uint64_t len;
    std::memcpy(&len, &b[i], 8);
    if (len == 1 && b[i + 8] == 'q') {
      poke<uint64_t>(b, i + 8 + 1 + 4, 33);
      break;
    }
  }
  expect_error(b, "not a multiple");
}

TEST(GgufCorrupt, EmptyTensorWithOffsetPastTheEnd) {
  // Found by fuzz_gguf: a tensor with zero elements and an offset near 2^64
  // (pointer arithmetic overflowed when placing it).
  const std::vector<uint8_t> b = {
      0x47, 0x47, 0x55, 0x46, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x2a, 0x47, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x55, 0x46, 0x03, 0x69, 0x00, 0x00, 0x4a};
  expect_error(b, "outside the data section");
}

TEST(Gguf, OpenMissingFileIsNotFound) {
  auto f = File::open("/nonexistent/model.gguf");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace hearth::gguf
