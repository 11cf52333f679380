#include "model/synth.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gguf/file.h"
#include "gguf/writer.h"
#include "tensor/type_ops.h"

namespace hearth::model {

namespace {

Status add_random(gguf::Writer& w, const std::string& name, int64_t n_in, int64_t n_out, DType type, float stddev,
                  std::mt19937_64& rng) {
  std::normal_distribution<float> dist(0.f, stddev);
  std::vector<float> f(static_cast<size_t>(n_in));
  const auto& ops = tensor::type_ops(type);
  size_t rb = row_bytes(type, n_in);
  std::vector<uint8_t> out(rb * static_cast<size_t>(n_out));
  for (int64_t r = 0; r < n_out; ++r) {
    for (auto& x : f) x = dist(rng);
    ops.from_float(f.data(), out.data() + r * rb, n_in);
  }
  std::vector<int64_t> ne = n_out == 1 ? std::vector<int64_t>{n_in} : std::vector<int64_t>{n_in, n_out};
  return w.add_tensor(name, type, ne, std::move(out));
}

Status add_ones(gguf::Writer& w, const std::string& name, int64_t n) {
  std::vector<float> f(static_cast<size_t>(n), 1.0f);
  std::vector<uint8_t> b(f.size() * 4);
  std::memcpy(b.data(), f.data(), b.size());
  return w.add_tensor(name, DType::kF32, {n}, std::move(b));
}

Status add_zeros(gguf::Writer& w, const std::string& name, int64_t n) {
  std::vector<uint8_t> b(static_cast<size_t>(n) * 4, 0);
  return w.add_tensor(name, DType::kF32, {n}, std::move(b));
}

// A BERT encoder (model/bert.h): embeddings of tokens, positions and token
// types, post-norm blocks with biases and a GELU FFN; kv_heads is ignored.
Status add_bert_tensors(gguf::Writer& w, const SynthOptions& o, int64_t n_vocab, std::mt19937_64& rng) {
  const float s = 1.0f / std::sqrt(static_cast<float>(o.dim));
  HEARTH_RETURN_IF_ERROR(add_random(w, "token_embd.weight", o.dim, n_vocab, o.type, 1.0f, rng));
  HEARTH_RETURN_IF_ERROR(add_random(w, "token_types.weight", o.dim, 2, DType::kF32, 0.02f, rng));
  HEARTH_RETURN_IF_ERROR(add_random(w, "position_embd.weight", o.dim, o.ctx, o.type, 0.02f, rng));
  HEARTH_RETURN_IF_ERROR(add_ones(w, "token_embd_norm.weight", o.dim));
  HEARTH_RETURN_IF_ERROR(add_zeros(w, "token_embd_norm.bias", o.dim));
  for (int64_t l = 0; l < o.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_output"}) {
      HEARTH_RETURN_IF_ERROR(add_random(w, p + m + ".weight", o.dim, o.dim, o.type, s, rng));
      HEARTH_RETURN_IF_ERROR(add_random(w, p + m + ".bias", o.dim, 1, DType::kF32, 0.02f, rng));
    }
    HEARTH_RETURN_IF_ERROR(add_ones(w, p + "attn_output_norm.weight", o.dim));
    HEARTH_RETURN_IF_ERROR(add_zeros(w, p + "attn_output_norm.bias", o.dim));
    HEARTH_RETURN_IF_ERROR(add_random(w, p + "ffn_up.weight", o.dim, o.ffn, o.type, s, rng));
    HEARTH_RETURN_IF_ERROR(add_random(w, p + "ffn_up.bias", o.ffn, 1, DType::kF32, 0.02f, rng));
    HEARTH_RETURN_IF_ERROR(add_random(w, p + "ffn_down.weight", o.ffn, o.dim, o.type, 1.0f / std::sqrt(static_cast<float>(o.ffn)), rng));
    HEARTH_RETURN_IF_ERROR(add_random(w, p + "ffn_down.bias", o.dim, 1, DType::kF32, 0.02f, rng));
    HEARTH_RETURN_IF_ERROR(add_ones(w, p + "layer_output_norm.weight", o.dim));
    HEARTH_RETURN_IF_ERROR(add_zeros(w, p + "layer_output_norm.bias", o.dim));
  }
  return Status();
}

}  // namespace

Status synth_model(const SynthOptions& o, const std::string& out_path) {
  if (o.arch != "llama" && o.arch != "qwen2" && o.arch != "bert")
    return invalid_argument("synth: --arch must be llama, qwen2 or bert");
  if (o.dim <= 0 || o.layers <= 0 || o.heads <= 0 || o.kv_heads <= 0 || o.ffn <= 0 || o.ctx <= 0)
    return invalid_argument("synth: every dimension must be positive");
  if (o.dim % o.heads != 0 || (o.arch != "bert" && o.heads % o.kv_heads != 0))
    return invalid_argument("synth: dim must be a multiple of heads, heads a multiple of kv-heads");
  const int64_t bs = dtype_info(o.type).block_size;
  if (o.dim % bs != 0 || o.ffn % bs != 0)
    return invalid_argument(std::string("synth: dim and ffn must be multiples of the ") + dtype_name(o.type) +
                            " block size " + std::to_string(bs));
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::of_string(o.arch));
  w.set("general.name", gguf::Value::of_string("hearth-synth-" + o.arch + "-" + std::to_string(o.dim) + "x" +
                                               std::to_string(o.layers)));
  int64_t n_vocab = o.vocab;
  if (!o.vocab_from.empty()) {
    HEARTH_ASSIGN_OR_RETURN(gguf::File vf, gguf::File::open(o.vocab_from));
    const gguf::Value* toks = vf.find("tokenizer.ggml.tokens");
    if (!toks || toks->type != gguf::ValueType::kArray)
      return invalid_argument(o.vocab_from + ": has no tokenizer.ggml.tokens array");
    n_vocab = static_cast<int64_t>(toks->arr->count);
    for (const auto& [k, v] : vf.metadata())
      if (k.rfind("tokenizer.", 0) == 0) w.set(k, v);
  }
  if (n_vocab <= 0) return invalid_argument("synth: give --vocab-from FILE.gguf or --vocab N");
  const std::string a = o.arch + ".";
  if (o.arch == "bert") {
    w.set(a + "context_length", gguf::Value::of_u32(static_cast<uint32_t>(o.ctx)));
    w.set(a + "embedding_length", gguf::Value::of_u32(static_cast<uint32_t>(o.dim)));
    w.set(a + "block_count", gguf::Value::of_u32(static_cast<uint32_t>(o.layers)));
    w.set(a + "feed_forward_length", gguf::Value::of_u32(static_cast<uint32_t>(o.ffn)));
    w.set(a + "attention.head_count", gguf::Value::of_u32(static_cast<uint32_t>(o.heads)));
    w.set(a + "attention.layer_norm_epsilon", gguf::Value::of_f32(1e-12f));
    w.set(a + "attention.causal", gguf::Value::of_bool(false));
    w.set(a + "pooling_type", gguf::Value::of_u32(1));  // mean
    w.set("general.file_type", gguf::Value::of_u32(o.type == DType::kF32 ? 0 : 1));
    std::mt19937_64 rng(o.seed);
    HEARTH_RETURN_IF_ERROR(add_bert_tensors(w, o, n_vocab, rng));
    return w.write_file(out_path);
  }
  w.set(a + "context_length", gguf::Value::of_u32(static_cast<uint32_t>(o.ctx)));
  w.set(a + "embedding_length", gguf::Value::of_u32(static_cast<uint32_t>(o.dim)));
  w.set(a + "block_count", gguf::Value::of_u32(static_cast<uint32_t>(o.layers)));
  w.set(a + "feed_forward_length", gguf::Value::of_u32(static_cast<uint32_t>(o.ffn)));
  w.set(a + "attention.head_count", gguf::Value::of_u32(static_cast<uint32_t>(o.heads)));
  w.set(a + "attention.head_count_kv", gguf::Value::of_u32(static_cast<uint32_t>(o.kv_heads)));
  w.set(a + "rope.dimension_count", gguf::Value::of_u32(static_cast<uint32_t>(o.dim / o.heads)));
  w.set(a + "attention.layer_norm_rms_epsilon", gguf::Value::of_f32(1e-5f));
  w.set(a + "rope.freq_base", gguf::Value::of_f32(o.rope_base));
  w.set("general.file_type", gguf::Value::of_u32(o.type == DType::kF32 ? 0 : 1));

  std::mt19937_64 rng(o.seed);
  const int64_t hd = o.dim / o.heads, kv = o.kv_heads * hd;
  const float s = 1.0f / std::sqrt(static_cast<float>(o.dim));
  HEARTH_RETURN_IF_ERROR(add_random(w, "token_embd.weight", o.dim, n_vocab, o.type, 1.0f, rng));
  HEARTH_RETURN_IF_ERROR(add_ones(w, "output_norm.weight", o.dim));
  HEARTH_RETURN_IF_ERROR(add_random(w, "output.weight", o.dim, n_vocab, o.type, s, rng));
  for (int64_t l = 0; l < o.layers; ++l) {
    std::string p = "blk." + std::to_string(l) + ".";
    HEARTH_RETURN_IF_ERROR(add_ones(w, p + "attn_norm.weight", o.dim));
    HEARTH_RETURN_IF_ERROR(add_random(w, p + "attn_q.weight", o.dim, o.dim, o.type, s, rng));
    HEARTH_RETURN_IF_ERROR(add_random(w, p + "attn_k.weight", o.dim, kv, o.type, s, rng));
    HEARTH_RETURN_IF_ERROR(add_random(w, p + "attn_v.weight", o.dim, kv, o.type, s, rng));
    HEARTH_RETURN_IF_ERROR(add_random(w, p + "attn_output.weight", o.dim, o.dim, o.type, s, rng));
    if (o.arch == "qwen2") {
      HEARTH_RETURN_IF_ERROR(add_random(w, p + "attn_q.bias", o.dim, 1, DType::kF32, 0.02f, rng));
      HEARTH_RETURN_IF_ERROR(add_random(w, p + "attn_k.bias", kv, 1, DType::kF32, 0.02f, rng));
      HEARTH_RETURN_IF_ERROR(add_random(w, p + "attn_v.bias", kv, 1, DType::kF32, 0.02f, rng));
    }
    HEARTH_RETURN_IF_ERROR(add_ones(w, p + "ffn_norm.weight", o.dim));
    HEARTH_RETURN_IF_ERROR(add_random(w, p + "ffn_gate.weight", o.dim, o.ffn, o.type, s, rng));
    HEARTH_RETURN_IF_ERROR(add_random(w, p + "ffn_up.weight", o.dim, o.ffn, o.type, s, rng));
    HEARTH_RETURN_IF_ERROR(add_random(w, p + "ffn_down.weight", o.ffn, o.dim, o.type, 1.0f / std::sqrt(static_cast<float>(o.ffn)), rng));
  }
  return w.write_file(out_path);
}

}  // namespace hearth::model
