#include "model/quantize.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "core/thread_pool.h"
#include "gguf/file.h"
#include "gguf/writer.h"
#include "tensor/type_ops.h"

namespace hearth::model {

namespace {

// llama.cpp's `general.file_type` numbering, written so other tools see the mix.
int file_type_id(const QuantRecipe& r) {
  switch (r.base) {
    case DType::kF32: return 0;
    case DType::kF16: return 1;
    case DType::kQ4_0: return 2;
    case DType::kQ4_1: return 3;
    case DType::kQ8_0: return 7;
    case DType::kQ5_0: return 8;
    case DType::kQ5_1: return 9;
    case DType::kQ2_K: return 10;
    case DType::kQ3_K: return r.mix == 'S' ? 11 : r.mix == 'L' ? 13 : 12;
    case DType::kQ4_K: return r.mix == 'S' ? 14 : 15;
    case DType::kQ5_K: return r.mix == 'S' ? 16 : 17;
    case DType::kQ6_K: return 18;
    case DType::kBF16: return 32;
    default: return 0;
  }
}

// Layers that get more bits in the _M mixes: the first and last eighth, and
// every third one in between.
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

bool is_k(DType t) {
  return t == DType::kQ2_K || t == DType::kQ3_K || t == DType::kQ4_K || t == DType::kQ5_K || t == DType::kQ6_K;
}

int layer_of(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  return std::atoi(name.c_str() + 4);
}

}  // namespace

Result<QuantRecipe> parse_quant_type(const std::string& name) {
  std::string up;
  for (char c : name) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  QuantRecipe r;
  std::string base = up;
  if (up.size() > 4 && up[up.size() - 2] == '_' && (up.back() == 'S' || up.back() == 'M' || up.back() == 'L') &&
      up.find("_K_") != std::string::npos) {
    r.mix = up.back();
    base = up.substr(0, up.size() - 2);
  }
  auto t = dtype_from_name(base);
  const char* kAllowed = "F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K(_S/_M/_L), Q4_K(_S/_M), Q5_K(_S/_M), Q6_K";
  if (!t || *t == DType::kQ8_1 || *t == DType::kQ8_K)
    return invalid_argument("unknown quantization type '" + name + "' (one of " + kAllowed + ")");
  r.base = *t;
  if (r.mix && (r.base == DType::kQ2_K || r.base == DType::kQ6_K || (r.mix == 'L' && r.base != DType::kQ3_K)))
    return invalid_argument("unknown quantization type '" + name + "' (one of " + kAllowed + ")");
  if (r.base == DType::kQ3_K || r.base == DType::kQ4_K || r.base == DType::kQ5_K)
    if (!r.mix) r.mix = 'M';  // plain Q4_K means the usual medium mix
  return r;
}

DType choose_tensor_type(const QuantRecipe& r, bool pure, const std::string& name, int n_dims, int64_t row_len,
                         int layer, int n_layer, bool has_output) {
  if (n_dims < 2) return DType::kF32;  // norms, biases
  DType t = r.base;
  if (!pure && (name == "output.weight" || (!has_output && name == "token_embd.weight"))) {
    if (r.base != DType::kQ8_0 && r.base != DType::kF32 && r.base != DType::kF16 && r.base != DType::kBF16)
      t = DType::kQ6_K;
  } else if (!pure && is_k(r.base)) {
    bool v = name.find("attn_v.weight") != std::string::npos;
    bool down = name.find("ffn_down.weight") != std::string::npos;
    bool out = name.find("attn_output.weight") != std::string::npos;
    if (r.base == DType::kQ2_K && (v || down || out)) t = DType::kQ3_K;
    if (r.base == DType::kQ3_K) {
      if (r.mix == 'M' && v) t = layer < 2 ? DType::kQ5_K : DType::kQ4_K;
      if (r.mix == 'M' && down) t = layer < n_layer / 16 ? DType::kQ5_K : DType::kQ4_K;
      if (r.mix == 'M' && out) t = DType::kQ4_K;
      if (r.mix == 'L' && (v || down)) t = DType::kQ5_K;
      if (r.mix == 'L' && out) t = DType::kQ5_K;
    }
    if ((r.base == DType::kQ4_K || r.base == DType::kQ5_K) && r.mix == 'M' && (v || down) && use_more_bits(layer, n_layer))
      t = DType::kQ6_K;
    if (r.base == DType::kQ4_K && r.mix == 'S' && ((v && layer < 4) || (down && layer < n_layer / 8))) t = DType::kQ5_K;
  }
  // Rows that do not fit the 256-element K block fall back to a legacy type
  // of similar size (as the usual recipes do); anything else to F16.
  if (row_len % dtype_info(t).block_size != 0) {
    switch (t) {
      case DType::kQ2_K: case DType::kQ3_K: t = DType::kQ4_0; break;
      case DType::kQ4_K: t = DType::kQ5_0; break;
      case DType::kQ5_K: t = DType::kQ5_1; break;
      case DType::kQ6_K: t = DType::kQ8_0; break;
      default: break;
    }
    if (row_len % dtype_info(t).block_size != 0) t = DType::kF16;
  }
  return t;
}

Status quantize_file(const std::string& in_path, const std::string& out_path, const QuantizeOptions& opts) {
  HEARTH_ASSIGN_OR_RETURN(QuantRecipe recipe, parse_quant_type(opts.type));
  HEARTH_ASSIGN_OR_RETURN(gguf::File in, gguf::File::open(in_path));
  gguf::Writer w;
  for (const auto& [k, v] : in.metadata()) w.set(k, v);
  w.set("general.file_type", gguf::Value::of_u32(static_cast<uint32_t>(file_type_id(recipe))));
  w.set("general.quantization_version", gguf::Value::of_u32(2));
  const int n_layer = static_cast<int>(in.get_int_or(in.get_string_or("general.architecture", "") + ".block_count", 0));
  const bool has_output = in.tensor("output.weight") != nullptr;
  core::ThreadPool pool(opts.n_threads > 0 ? opts.n_threads : core::physical_cores());
  for (const auto& t : in.tensors()) {
    DType target = choose_tensor_type(recipe, opts.pure, t.name, t.n_dims, t.ne[0], layer_of(t.name), n_layer, has_output);
    std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
    if (target == t.type) {
      HEARTH_RETURN_IF_ERROR(w.add_tensor(t.name, t.type, ne, std::vector<uint8_t>(t.data, t.data + t.n_bytes)));
      continue;
    }
    const int64_t row = t.ne[0], rows = t.n_rows();
    const auto& from = tensor::type_ops(t.type);
    const auto& to = tensor::type_ops(target);
    const size_t in_row = row_bytes(t.type, row), out_row = row_bytes(target, row);
    std::vector<uint8_t> out(out_row * static_cast<size_t>(rows));
    pool.parallel_for(static_cast<size_t>(rows), [&](size_t b, size_t e, int) {
      std::vector<float> f(static_cast<size_t>(row));
      for (size_t r = b; r < e; ++r) {
        from.to_float(t.data + r * in_row, f.data(), row);
        to.from_float(f.data(), out.data() + r * out_row, row);
      }
    });
    HEARTH_RETURN_IF_ERROR(w.add_tensor(t.name, target, ne, std::move(out)));
  }
  return w.write_file(out_path);
}

}  // namespace hearth::model
