// GGUF metadata values: the 13 wire types, including arrays of any of them
// (arrays of strings, nested arrays).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hearth::gguf {

enum class ValueType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5,
  kFloat32 = 6, kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};

constexpr uint32_t kValueTypeCount = 13;
const char* value_type_name(ValueType t);
// Bytes of one scalar element on the wire; 0 for string and array.
size_t value_type_size(ValueType t);
bool is_integer(ValueType t);

struct Value;

// An array value. Scalars are kept packed as on the wire (little-endian), so a
// 150k-entry score array costs 600 KB, not 150k Value objects.
struct Array {
  ValueType elem_type = ValueType::kUint8;
  uint64_t count = 0;
  std::vector<uint8_t> raw;          // packed scalars (elem_type numeric/bool)
  std::vector<std::string> strings;  // elem_type == kString
  std::vector<Value> arrays;         // elem_type == kArray

  // Numeric access (index < count, elem_type numeric or bool).
  int64_t get_int(size_t i) const;
  double get_float(size_t i) const;
};

struct Value {
  ValueType type = ValueType::kUint8;
  uint64_t u = 0;   // unsigned integers and bool
  int64_t i = 0;    // signed integers
  double f = 0;     // floats
  std::string s;    // string
  std::shared_ptr<Array> arr;  // array (shared: values are copied cheaply)

  static Value of_u32(uint32_t v) { Value x; x.type = ValueType::kUint32; x.u = v; return x; }
  static Value of_i32(int32_t v) { Value x; x.type = ValueType::kInt32; x.i = v; return x; }
  static Value of_u64(uint64_t v) { Value x; x.type = ValueType::kUint64; x.u = v; return x; }
  static Value of_f32(float v) { Value x; x.type = ValueType::kFloat32; x.f = v; return x; }
  static Value of_bool(bool v) { Value x; x.type = ValueType::kBool; x.u = v; return x; }
  static Value of_string(std::string v) { Value x; x.type = ValueType::kString; x.s = std::move(v); return x; }
  static Value of_strings(std::vector<std::string> v);
  static Value of_f32s(const std::vector<float>& v);
  static Value of_i32s(const std::vector<int32_t>& v);

  // Integer value of any integer/bool type; nullopt otherwise.
  std::optional<int64_t> as_int() const;
  // Numeric value of any numeric type; nullopt otherwise.
  std::optional<double> as_float() const;
  // Human-readable rendering (arrays abbreviated after `max_items`).
  std::string to_string(size_t max_items = 8) const;
  bool operator==(const Value& o) const;
};

}  // namespace hearth::gguf
