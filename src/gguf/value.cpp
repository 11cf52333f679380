#include "gguf/value.h"

#include <cstdio>

namespace hearth::gguf {

const char* value_type_name(ValueType t) {
  static const char* kNames[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                 "bool", "string", "array", "uint64", "int64", "float64"};
  auto i = static_cast<uint32_t>(t);
  return i < kValueTypeCount ? kNames[i] : "invalid";
}

size_t value_type_size(ValueType t) {
  switch (t) {
    case ValueType::kUint8: case ValueType::kInt8: case ValueType::kBool: return 1;
    case ValueType::kUint16: case ValueType::kInt16: return 2;
    case ValueType::kUint32: case ValueType::kInt32: case ValueType::kFloat32: return 4;
    case ValueType::kUint64: case ValueType::kInt64: case ValueType::kFloat64: return 8;
    case ValueType::kString: case ValueType::kArray: return 0;
  }
  return 0;
}

bool is_integer(ValueType t) {
  switch (t) {
    case ValueType::kUint8: case ValueType::kInt8: case ValueType::kUint16: case ValueType::kInt16:
    case ValueType::kUint32: case ValueType::kInt32: case ValueType::kUint64: case ValueType::kInt64:
      return true;
    default:
      return false;
  }
}

namespace {

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

int64_t Array::get_int(size_t i) const {
  const uint8_t* p = raw.data() + i * value_type_size(elem_type);
  switch (elem_type) {
    case ValueType::kUint8: case ValueType::kBool: return load<uint8_t>(p);
    case ValueType::kInt8: return load<int8_t>(p);
    case ValueType::kUint16: return load<uint16_t>(p);
    case ValueType::kInt16: return load<int16_t>(p);
    case ValueType::kUint32: return load<uint32_t>(p);
    case ValueType::kInt32: return load<int32_t>(p);
    case ValueType::kUint64: return static_cast<int64_t>(load<uint64_t>(p));
    case ValueType::kInt64: return load<int64_t>(p);
    case ValueType::kFloat32: return static_cast<int64_t>(load<float>(p));
    case ValueType::kFloat64: return static_cast<int64_t>(load<double>(p));
    default: return 0;
  }
}

double Array::get_float(size_t i) const {
  const uint8_t* p = raw.data() + i * value_type_size(elem_type);
  if (elem_type == ValueType::kFloat32) return load<float>(p);
  if (elem_type == ValueType::kFloat64) return load<double>(p);
  if (elem_type == ValueType::kUint64) return static_cast<double>(load<uint64_t>(p));
  return static_cast<double>(get_int(i));
}

Value Value::of_strings(std::vector<std::string> v) {
  Value x;
  x.type = ValueType::kArray;
  x.arr = std::make_shared<Array>();
  x.arr->elem_type = ValueType::kString;
  x.arr->count = v.size();
  x.arr->strings = std::move(v);
  return x;
}

Value Value::of_f32s(const std::vector<float>& v) {
  Value x;
  x.type = ValueType::kArray;
  x.arr = std::make_shared<Array>();
  x.arr->elem_type = ValueType::kFloat32;
  x.arr->count = v.size();
  x.arr->raw.resize(v.size() * 4);
  if (!v.empty()) std::memcpy(x.arr->raw.data(), v.data(), v.size() * 4);
  return x;
}

Value Value::of_i32s(const std::vector<int32_t>& v) {
  Value x;
  x.type = ValueType::kArray;
  x.arr = std::make_shared<Array>();
  x.arr->elem_type = ValueType::kInt32;
  x.arr->count = v.size();
  x.arr->raw.resize(v.size() * 4);
  if (!v.empty()) std::memcpy(x.arr->raw.data(), v.data(), v.size() * 4);
  return x;
}

std::optional<int64_t> Value::as_int() const {
  switch (type) {
    case ValueType::kUint8: case ValueType::kUint16: case ValueType::kUint32: case ValueType::kBool:
      return static_cast<int64_t>(u);
    case ValueType::kUint64:
      if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
      return static_cast<int64_t>(u);
    case ValueType::kInt8: case ValueType::kInt16: case ValueType::kInt32: case ValueType::kInt64:
      return i;
    default:
      return std::nullopt;
  }
}

std::optional<double> Value::as_float() const {
  if (type == ValueType::kFloat32 || type == ValueType::kFloat64) return f;
  if (type == ValueType::kUint64) return static_cast<double>(u);
  if (auto v = as_int()) return static_cast<double>(*v);
  return std::nullopt;
}

std::string Value::to_string(size_t max_items) const {
  char buf[64];
  switch (type) {
    case ValueType::kString: return "\"" + s + "\"";
    case ValueType::kBool: return u ? "true" : "false";
    case ValueType::kFloat32: case ValueType::kFloat64:
      std::snprintf(buf, sizeof buf, "%g", f);
      return buf;
    case ValueType::kUint64:
      return std::to_string(u);
    case ValueType::kArray: {
      std::string out = "[";
      size_t n = std::min<uint64_t>(arr->count, max_items);
      for (size_t k = 0; k < n; ++k) {
        if (k) out += ", ";
        if (arr->elem_type == ValueType::kString) out += "\"" + arr->strings[k] + "\"";
        else if (arr->elem_type == ValueType::kArray) out += arr->arrays[k].to_string(max_items);
        else if (arr->elem_type == ValueType::kFloat32 || arr->elem_type == ValueType::kFloat64) {
          std::snprintf(buf, sizeof buf, "%g", arr->get_float(k));
          out += buf;
        } else if (arr->elem_type == ValueType::kUint64) {
          uint64_t v;
          std::memcpy(&v, arr->raw.data() + k * 8, 8);
          out += std::to_string(v);
        } else out += std::to_string(arr->get_int(k));
      }
      if (arr->count > n) out += ", ... (" + std::to_string(arr->count) + " items)";
      return out + "]";
    }
    default:
      return std::to_string(*as_int());
  }
}

bool Value::operator==(const Value& o) const {
  if (type != o.type) return false;
  switch (type) {
    case ValueType::kString: return s == o.s;
    case ValueType::kFloat32: case ValueType::kFloat64: return f == o.f || (f != f && o.f != o.f);
    case ValueType::kArray:
      return arr->elem_type == o.arr->elem_type && arr->count == o.arr->count && arr->raw == o.arr->raw &&
             arr->strings == o.arr->strings && arr->arrays == o.arr->arrays;
    default: return u == o.u && i == o.i;
  }
}

}  // namespace hearth::gguf
