#include "gguf/file.h"

#include <cstring>

namespace hearth::gguf {

namespace {

bool mul_overflow(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }

}  // namespace

std::string TensorInfo::shape_string() const {
  std::string s = "[";
  for (int d = 0; d < n_dims; ++d) {
    if (d) s += ", ";
    s += std::to_string(ne[d]);
  }
  return s + "]";
}

// Reads the wire format with a bounds-checked cursor.
class Parser {
 public:
  Parser(File& f, const Limits& limits) : f_(f), lim_(limits) {}

  Status run();

 private:
  Status fail(const std::string& what, uint64_t at) const {
    return corrupt(f_.label_ + ": " + what + " at offset " + std::to_string(at));
  }
  Status need(uint64_t n, const char* what) const {
    if (n > f_.size_ - pos_) return fail(std::string("file truncated reading ") + what, pos_);
    return Status();
  }
  template <class T>
  Status read(T* out, const char* what) {
    HEARTH_RETURN_IF_ERROR(need(sizeof(T), what));
    std::memcpy(out, f_.data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status();
  }
  Status read_string(std::string* out, uint64_t cap, const char* what);
  Status read_value(ValueType type, Value* out, int depth, const std::string& key);
  Status read_array(Value* out, int depth, const std::string& key);
  Status read_tensor_info(uint64_t index);
  Status place_tensors();

  File& f_;
  const Limits& lim_;
  uint64_t pos_ = 0;
  uint64_t nested_elements_ = 0;
};

Status Parser::read_string(std::string* out, uint64_t cap, const char* what) {
  uint64_t at = pos_;
  uint64_t len;
  HEARTH_RETURN_IF_ERROR(read(&len, what));
  if (len > cap) return fail(std::string(what) + " length " + std::to_string(len) + " exceeds the limit of " + std::to_string(cap), at);
  if (len > f_.size_ - pos_) return fail(std::string(what) + " length " + std::to_string(len) + " runs past the end of the file", at);
  out->assign(reinterpret_cast<const char*>(f_.data_ + pos_), len);
  pos_ += len;
  return Status();
}

Status Parser::read_value(ValueType type, Value* out, int depth, const std::string& key) {
  out->type = type;
  switch (type) {
    case ValueType::kUint8: { uint8_t v; HEARTH_RETURN_IF_ERROR(read(&v, "value")); out->u = v; break; }
    case ValueType::kInt8: { int8_t v; HEARTH_RETURN_IF_ERROR(read(&v, "value")); out->i = v; break; }
    case ValueType::kUint16: { uint16_t v; HEARTH_RETURN_IF_ERROR(read(&v, "value")); out->u = v; break; }
    case ValueType::kInt16: { int16_t v; HEARTH_RETURN_IF_ERROR(read(&v, "value")); out->i = v; break; }
    case ValueType::kUint32: { uint32_t v; HEARTH_RETURN_IF_ERROR(read(&v, "value")); out->u = v; break; }
    case ValueType::kInt32: { int32_t v; HEARTH_RETURN_IF_ERROR(read(&v, "value")); out->i = v; break; }
    case ValueType::kUint64: { uint64_t v; HEARTH_RETURN_IF_ERROR(read(&v, "value")); out->u = v; break; }
    case ValueType::kInt64: { int64_t v; HEARTH_RETURN_IF_ERROR(read(&v, "value")); out->i = v; break; }
    case ValueType::kFloat32: { float v; HEARTH_RETURN_IF_ERROR(read(&v, "value")); out->f = v; break; }
    case ValueType::kFloat64: { double v; HEARTH_RETURN_IF_ERROR(read(&v, "value")); out->f = v; break; }
    case ValueType::kBool: {
      uint64_t at = pos_;
      uint8_t v;
      HEARTH_RETURN_IF_ERROR(read(&v, "value"));
      if (v > 1) return fail("key '" + key + "': bool value " + std::to_string(v) + " is not 0 or 1", at);
      out->u = v;
      break;
    }
    case ValueType::kString: HEARTH_RETURN_IF_ERROR(read_string(&out->s, lim_.max_string_bytes, "string value")); break;
    case ValueType::kArray: return read_array(out, depth + 1, key);
  }
  return Status();
}

Status Parser::read_array(Value* out, int depth, const std::string& key) {
  uint64_t at = pos_;
  if (depth > lim_.max_array_depth) return fail("key '" + key + "': arrays nested deeper than " + std::to_string(lim_.max_array_depth), at);
  uint32_t et;
  uint64_t count;
  HEARTH_RETURN_IF_ERROR(read(&et, "array type"));
  if (et >= kValueTypeCount) return fail("key '" + key + "': unknown array element type " + std::to_string(et), at);
  HEARTH_RETURN_IF_ERROR(read(&count, "array length"));
  auto elem = static_cast<ValueType>(et);
  // Every element needs at least this many bytes on the wire, so the count is
  // bounded by the bytes left: no allocation beyond a multiple of the file size.
  uint64_t min_bytes = elem == ValueType::kString ? 8 : elem == ValueType::kArray ? 12 : value_type_size(elem);
  uint64_t left = f_.size_ - pos_;
  if (count > lim_.max_array_elements || count > left / min_bytes)
    return fail("key '" + key + "': array of " + std::to_string(count) + " " + value_type_name(elem) +
                    " elements does not fit in the file (absurd length or truncated file)", at);
  out->arr = std::make_shared<Array>();
  Array& a = *out->arr;
  a.elem_type = elem;
  a.count = count;
  if (elem == ValueType::kString) {
    a.strings.resize(count);
    for (uint64_t k = 0; k < count; ++k) HEARTH_RETURN_IF_ERROR(read_string(&a.strings[k], lim_.max_string_bytes, "array string"));
  } else if (elem == ValueType::kArray) {
    nested_elements_ += count;
    if (nested_elements_ > (1u << 20)) return fail("key '" + key + "': too many nested arrays", at);
    a.arrays.resize(count);
    for (uint64_t k = 0; k < count; ++k) HEARTH_RETURN_IF_ERROR(read_array(&a.arrays[k], depth + 1, key));
    for (auto& v : a.arrays) v.type = ValueType::kArray;
  } else {
    uint64_t n = count * min_bytes;
    a.raw.assign(f_.data_ + pos_, f_.data_ + pos_ + n);
    if (elem == ValueType::kBool)
      for (uint64_t k = 0; k < count; ++k)
        if (a.raw[k] > 1) return fail("key '" + key + "': bool array element is not 0 or 1", pos_ + k);
    pos_ += n;
  }
  out->type = ValueType::kArray;
  return Status();
}

Status Parser::read_tensor_info(uint64_t index) {
  uint64_t at = pos_;
  TensorInfo t;
  HEARTH_RETURN_IF_ERROR(read_string(&t.name, lim_.max_key_bytes, "tensor name"));
  if (f_.tensor_index_.count(t.name)) return fail("duplicate tensor name '" + t.name + "'", at);
  uint32_t n_dims;
  uint64_t dims_at = pos_;
  HEARTH_RETURN_IF_ERROR(read(&n_dims, "tensor dimension count"));
  if (n_dims == 0 || n_dims > kMaxDims)
    return fail("tensor '" + t.name + "' has " + std::to_string(n_dims) + " dimensions (1 to 4 allowed)", dims_at);
  t.n_dims = static_cast<int>(n_dims);
  uint64_t n_elements = 1;
  for (uint32_t d = 0; d < n_dims; ++d) {
    uint64_t v;
    uint64_t dat = pos_;
    HEARTH_RETURN_IF_ERROR(read(&v, "tensor dimension"));
    if (v > static_cast<uint64_t>(INT64_MAX) || mul_overflow(n_elements, v, &n_elements) ||
        n_elements > static_cast<uint64_t>(INT64_MAX))
      return fail("tensor '" + t.name + "' element count overflows", dat);
    t.ne[d] = static_cast<int64_t>(v);
  }
  uint32_t type_id;
  uint64_t type_at = pos_;
  HEARTH_RETURN_IF_ERROR(read(&type_id, "tensor type"));
  auto info = dtype_info(type_id);
  if (!info) return fail("tensor '" + t.name + "' has unknown type id " + std::to_string(type_id), type_at);
  t.type = info->type;
  if (t.ne[0] % info->block_size != 0)
    return fail("tensor '" + t.name + "' row length " + std::to_string(t.ne[0]) + " is not a multiple of the " +
                    info->name + " block size " + std::to_string(info->block_size), dims_at);
  uint64_t bytes;
  if (mul_overflow(n_elements / info->block_size, info->block_bytes, &bytes))
    return fail("tensor '" + t.name + "' byte size overflows", dims_at);
  t.n_bytes = bytes;
  HEARTH_RETURN_IF_ERROR(read(&t.offset, "tensor offset"));
  (void)index;
  f_.tensor_index_.emplace(t.name, f_.tensors_.size());
  f_.tensors_.push_back(std::move(t));
  return Status();
}

Status Parser::place_tensors() {
  uint64_t align = f_.alignment_;
  uint64_t data_start = (pos_ + align - 1) / align * align;
  if (data_start < pos_) return fail("data section offset overflows", pos_);
  f_.data_offset_ = data_start;
  uint64_t data_size = data_start <= f_.size_ ? f_.size_ - data_start : 0;
  for (auto& t : f_.tensors_) {
    if (t.offset % align != 0)
      return corrupt(f_.label_ + ": tensor '" + t.name + "' offset " + std::to_string(t.offset) +
                     " is not aligned to " + std::to_string(align));
    // Empty tensors too: their data pointer must still lie inside the file.
    if (data_start > f_.size_ || t.offset > data_size || t.n_bytes > data_size - t.offset)
      return corrupt(f_.label_ + ": tensor '" + t.name + "' data [" + std::to_string(t.offset) + ", +" +
                     std::to_string(t.n_bytes) + ") lies outside the data section of " + std::to_string(data_size) +
                     " bytes (file truncated or bad offset)");
    t.data = f_.data_ + data_start + t.offset;
  }
  return Status();
}

Status Parser::run() {
  uint32_t magic;
  HEARTH_RETURN_IF_ERROR(read(&magic, "magic"));
  if (magic != kMagic) return fail("not a GGUF file (bad magic)", 0);
  HEARTH_RETURN_IF_ERROR(read(&f_.version_, "version"));
  if (f_.version_ != 2 && f_.version_ != 3)
    return unsupported(f_.label_ + ": GGUF version " + std::to_string(f_.version_) + " (hearth reads versions 2 and 3)");
  uint64_t n_tensors, n_kv;
  uint64_t counts_at = pos_;
  HEARTH_RETURN_IF_ERROR(read(&n_tensors, "tensor count"));
  HEARTH_RETURN_IF_ERROR(read(&n_kv, "metadata count"));
  uint64_t left = f_.size_ - pos_;
  // A metadata entry takes at least 8 (key length) + 4 (type) + 1 bytes; a
  // tensor info at least 8 + 4 + 8 + 4 + 8.
  if (n_kv > lim_.max_kv || n_kv > left / 13)
    return fail("metadata count " + std::to_string(n_kv) + " cannot fit in the " + std::to_string(left) +
                    " bytes left (absurd count or truncated file)", counts_at + 8);
  if (n_tensors > lim_.max_tensors || n_tensors > left / 32)
    return fail("tensor count " + std::to_string(n_tensors) + " cannot fit in the " + std::to_string(left) +
                    " bytes left (absurd count or truncated file)", counts_at);

  for (uint64_t k = 0; k < n_kv; ++k) {
    uint64_t at = pos_;
    std::string key;
    HEARTH_RETURN_IF_ERROR(read_string(&key, lim_.max_key_bytes, "metadata key"));
    if (f_.kv_index_.count(key)) return fail("duplicate metadata key '" + key + "'", at);
    uint32_t type;
    uint64_t type_at = pos_;
    HEARTH_RETURN_IF_ERROR(read(&type, "metadata type"));
    if (type >= kValueTypeCount) return fail("key '" + key + "' has unknown value type " + std::to_string(type), type_at);
    Value v;
    HEARTH_RETURN_IF_ERROR(read_value(static_cast<ValueType>(type), &v, 0, key));
    f_.kv_index_.emplace(key, f_.kv_.size());
    f_.kv_.emplace_back(std::move(key), std::move(v));
  }
  if (const Value* a = f_.find("general.alignment")) {
    auto v = a->as_int();
    if (!v || *v <= 0 || *v > (1 << 20) || (*v & (*v - 1)) != 0)
      return corrupt(f_.label_ + ": general.alignment " + a->to_string() + " is not a power of two");
    f_.alignment_ = static_cast<uint32_t>(*v);
  }
  for (uint64_t k = 0; k < n_tensors; ++k) HEARTH_RETURN_IF_ERROR(read_tensor_info(k));
  return place_tensors();
}

Result<File> File::parse(const uint8_t* data, size_t size, const std::string& label, const Limits& limits) {
  File f;
  f.label_ = label;
  f.data_ = data;
  f.size_ = size;
  Parser p(f, limits);
  HEARTH_RETURN_IF_ERROR(p.run());
  return f;
}

Result<File> File::open(const std::string& path, const Limits& limits) {
  HEARTH_ASSIGN_OR_RETURN(core::MappedFile m, core::MappedFile::open(path));
  auto mapping = std::make_shared<core::MappedFile>(std::move(m));
  HEARTH_ASSIGN_OR_RETURN(File f, parse(mapping->data(), mapping->size(), path, limits));
  f.mapping_ = std::move(mapping);
  return f;
}

const Value* File::find(const std::string& key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

Status File::copy_bytes(const uint8_t* p, size_t n, uint8_t* dst) const {
  if (p < data_ || p - data_ > static_cast<std::ptrdiff_t>(size_) || n > size_ - static_cast<size_t>(p - data_))
    return out_of_range(label_ + ": copy of " + std::to_string(n) + " bytes outside the file");
  if (mapping_) return mapping_->read(static_cast<size_t>(p - mapping_->data()), n, dst);
  std::memcpy(dst, p, n);
  return Status();
}

void File::read_ahead(const uint8_t* p, size_t n) const {
  if (!mapping_ || p < data_ || p - data_ > static_cast<std::ptrdiff_t>(size_) || n > size_ - static_cast<size_t>(p - data_))
    return;
  mapping_->read_ahead(static_cast<size_t>(p - mapping_->data()), n);
}

const TensorInfo* File::tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Result<int64_t> File::get_int(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return not_found(label_ + ": metadata key '" + key + "' is missing");
  auto i = v->as_int();
  if (!i) return invalid_argument(label_ + ": metadata key '" + key + "' is a " + value_type_name(v->type) + ", expected an integer");
  return *i;
}

Result<double> File::get_float(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return not_found(label_ + ": metadata key '" + key + "' is missing");
  auto d = v->as_float();
  if (!d) return invalid_argument(label_ + ": metadata key '" + key + "' is a " + value_type_name(v->type) + ", expected a number");
  return *d;
}

Result<std::string> File::get_string(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return not_found(label_ + ": metadata key '" + key + "' is missing");
  if (v->type != ValueType::kString)
    return invalid_argument(label_ + ": metadata key '" + key + "' is a " + value_type_name(v->type) + ", expected a string");
  return v->s;
}

Result<bool> File::get_bool(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return not_found(label_ + ": metadata key '" + key + "' is missing");
  if (v->type != ValueType::kBool)
    return invalid_argument(label_ + ": metadata key '" + key + "' is a " + value_type_name(v->type) + ", expected a bool");
  return v->u != 0;
}

int64_t File::get_int_or(const std::string& key, int64_t fallback) const {
  auto r = get_int(key);
  return r.ok() ? r.value() : fallback;
}
double File::get_float_or(const std::string& key, double fallback) const {
  auto r = get_float(key);
  return r.ok() ? r.value() : fallback;
}
std::string File::get_string_or(const std::string& key, const std::string& fallback) const {
  auto r = get_string(key);
  return r.ok() ? r.value() : fallback;
}
bool File::get_bool_or(const std::string& key, bool fallback) const {
  auto r = get_bool(key);
  return r.ok() ? r.value() : fallback;
}

}  // namespace hearth::gguf
