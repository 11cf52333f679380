#include "gguf/writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include "gguf/file.h"

namespace hearth::gguf {

namespace {

template <class T>
void put(std::vector<uint8_t>& out, T v) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.insert(out.end(), b, b + sizeof(T));
}

void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

void put_value_body(std::vector<uint8_t>& out, const Value& v);

void put_array_body(std::vector<uint8_t>& out, const Array& a) {
  put<uint32_t>(out, static_cast<uint32_t>(a.elem_type));
  put<uint64_t>(out, a.count);
  if (a.elem_type == ValueType::kString) {
    for (const auto& s : a.strings) put_string(out, s);
  } else if (a.elem_type == ValueType::kArray) {
    for (const auto& v : a.arrays) put_array_body(out, *v.arr);
  } else {
    out.insert(out.end(), a.raw.begin(), a.raw.end());
  }
}

void put_value_body(std::vector<uint8_t>& out, const Value& v) {
  switch (v.type) {
    case ValueType::kUint8: put<uint8_t>(out, static_cast<uint8_t>(v.u)); break;
    case ValueType::kInt8: put<int8_t>(out, static_cast<int8_t>(v.i)); break;
    case ValueType::kUint16: put<uint16_t>(out, static_cast<uint16_t>(v.u)); break;
    case ValueType::kInt16: put<int16_t>(out, static_cast<int16_t>(v.i)); break;
    case ValueType::kUint32: put<uint32_t>(out, static_cast<uint32_t>(v.u)); break;
    case ValueType::kInt32: put<int32_t>(out, static_cast<int32_t>(v.i)); break;
    case ValueType::kUint64: put<uint64_t>(out, v.u); break;
    case ValueType::kInt64: put<int64_t>(out, v.i); break;
    case ValueType::kFloat32: put<float>(out, static_cast<float>(v.f)); break;
    case ValueType::kFloat64: put<double>(out, v.f); break;
    case ValueType::kBool: put<uint8_t>(out, v.u ? 1 : 0); break;
    case ValueType::kString: put_string(out, v.s); break;
    case ValueType::kArray: put_array_body(out, *v.arr); break;
  }
}

}  // namespace

void Writer::set(const std::string& key, Value value) {
  for (auto& kv : kv_)
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  kv_.emplace_back(key, std::move(value));
}

Status Writer::add_tensor(const std::string& name, DType type, const std::vector<int64_t>& ne,
                          std::vector<uint8_t> data) {
  for (const auto& t : tensors_)
    if (t.name == name) return invalid_argument("gguf writer: duplicate tensor name '" + name + "'");
  if (ne.empty() || ne.size() > kMaxDims) return invalid_argument("gguf writer: tensor '" + name + "' needs 1 to 4 dimensions");
  const DTypeInfo& info = dtype_info(type);
  if (ne[0] % info.block_size != 0)
    return invalid_argument("gguf writer: tensor '" + name + "' row length is not a multiple of the block size");
  int64_t n = 1;
  for (int64_t d : ne) {
    if (d < 0) return invalid_argument("gguf writer: tensor '" + name + "' has a negative dimension");
    n *= d;
  }
  size_t expect = static_cast<size_t>(n / info.block_size) * info.block_bytes;
  if (data.size() != expect)
    return invalid_argument("gguf writer: tensor '" + name + "' has " + std::to_string(data.size()) +
                            " bytes, expected " + std::to_string(expect));
  tensors_.push_back({name, type, ne, std::move(data)});
  return Status();
}

std::vector<uint8_t> Writer::to_bytes() const {
  uint64_t align = kDefaultAlignment;
  for (const auto& kv : kv_)
    if (kv.first == "general.alignment")
      if (auto v = kv.second.as_int(); v && *v > 0) align = static_cast<uint64_t>(*v);
  std::vector<uint8_t> out;
  put<uint32_t>(out, kMagic);
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, kv_.size());
  for (const auto& [key, v] : kv_) {
    put_string(out, key);
    put<uint32_t>(out, static_cast<uint32_t>(v.type));
    put_value_body(out, v);
  }
  uint64_t offset = 0;
  std::vector<uint64_t> offsets;
  for (const auto& t : tensors_) {
    put_string(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) put<uint64_t>(out, static_cast<uint64_t>(d));
    put<uint32_t>(out, static_cast<uint32_t>(t.type));
    put<uint64_t>(out, offset);
    offsets.push_back(offset);
    offset = (offset + t.data.size() + align - 1) / align * align;
  }
  out.resize((out.size() + align - 1) / align * align, 0);
  size_t base = out.size();
  for (size_t k = 0; k < tensors_.size(); ++k) {
    out.resize(base + offsets[k], 0);
    out.insert(out.end(), tensors_[k].data.begin(), tensors_[k].data.end());
  }
  return out;
}

Status Writer::write_file(const std::string& path) const {
  std::vector<uint8_t> bytes = to_bytes();
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error(tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return io_error(tmp + ": " + std::strerror(e));
    }
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return io_error(tmp + ": " + std::strerror(e));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return io_error(path + ": " + std::strerror(e));
  }
  return Status();
}

}  // namespace hearth::gguf
