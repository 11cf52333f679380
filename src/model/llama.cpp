// Architecture `llama` (Llama 1/2/3, Mistral, TinyLlama, …) and the loading
// code shared by the llama-family block.
#include "model/llama.h"

#include "model/registry.h"

namespace hearth::model {

namespace {

std::string shape_str(int64_t a, int64_t b) { return "[" + std::to_string(a) + ", " + std::to_string(b) + "]"; }

// Binds tensor `name`, which must be 2-D [n_in, n_out] (or 1-D [n_in] when
// n_out == 1). Optional tensors that are absent leave `out` empty.
Status bind_weight(const gguf::File& f, const std::string& name, int64_t n_in, int64_t n_out, bool required, Weight* out) {
  const gguf::TensorInfo* t = f.tensor(name);
  if (!t) {
    if (required) return not_found(f.label() + ": tensor '" + name + "' is missing");
    return Status();
  }
  bool ok = t->ne[0] == n_in && t->ne[1] == n_out && t->ne[2] == 1 && t->ne[3] == 1;
  if (!ok)
    return corrupt(f.label() + ": tensor '" + name + "' has shape " + t->shape_string() + ", expected " +
                   shape_str(n_in, n_out));
  if (n_out == 1 && t->type != DType::kF32 && t->type != DType::kF16 && t->type != DType::kBF16)
    return unsupported(f.label() + ": tensor '" + name + "' (a norm or bias) has type " + dtype_name(t->type) +
                       "; expected F32, F16 or BF16");
  out->name = name;
  out->type = t->type;
  out->n_in = n_in;
  out->n_out = n_out;
  out->data = t->data;
  out->row_bytes = row_bytes(t->type, n_in);
  return Status();
}

Status positive(const gguf::File& f, const std::string& key, int64_t v, int64_t max) {
  if (v <= 0 || v > max)
    return corrupt(f.label() + ": metadata '" + key + "' = " + std::to_string(v) + " is out of range (1.." +
                   std::to_string(max) + ")");
  return Status();
}

Status read_hparams(const gguf::File& f, const std::string& arch, HParams* hp) {
  auto key = [&](const char* k) { return arch + "." + k; };
  hp->arch = arch;
  HEARTH_ASSIGN_OR_RETURN(hp->n_embd, f.get_int(key("embedding_length")));
  HEARTH_ASSIGN_OR_RETURN(hp->n_layer, f.get_int(key("block_count")));
  HEARTH_ASSIGN_OR_RETURN(hp->n_head, f.get_int(key("attention.head_count")));
  HEARTH_ASSIGN_OR_RETURN(hp->n_ff, f.get_int(key("feed_forward_length")));
  HEARTH_ASSIGN_OR_RETURN(hp->n_ctx_train, f.get_int(key("context_length")));
  hp->n_head_kv = hp->n_head;
  if (f.find(key("attention.head_count_kv"))) {
    HEARTH_ASSIGN_OR_RETURN(hp->n_head_kv, f.get_int(key("attention.head_count_kv")));
  }
  HEARTH_RETURN_IF_ERROR(positive(f, key("embedding_length"), hp->n_embd, 1 << 20));
  HEARTH_RETURN_IF_ERROR(positive(f, key("block_count"), hp->n_layer, 4096));
  HEARTH_RETURN_IF_ERROR(positive(f, key("attention.head_count"), hp->n_head, 1 << 14));
  HEARTH_RETURN_IF_ERROR(positive(f, key("attention.head_count_kv"), hp->n_head_kv, hp->n_head));
  HEARTH_RETURN_IF_ERROR(positive(f, key("feed_forward_length"), hp->n_ff, 1 << 22));
  HEARTH_RETURN_IF_ERROR(positive(f, key("context_length"), hp->n_ctx_train, 1 << 24));
  if (hp->n_head % hp->n_head_kv != 0)
    return corrupt(f.label() + ": head_count " + std::to_string(hp->n_head) + " is not a multiple of head_count_kv " +
                   std::to_string(hp->n_head_kv));
  hp->head_dim = hp->n_embd / hp->n_head;
  if (f.find(key("attention.key_length"))) {
    HEARTH_ASSIGN_OR_RETURN(hp->head_dim, f.get_int(key("attention.key_length")));
  }
  HEARTH_RETURN_IF_ERROR(positive(f, key("attention.key_length"), hp->head_dim, 1 << 14));
  if (f.find(key("attention.value_length"))) {
    HEARTH_ASSIGN_OR_RETURN(int64_t vl, f.get_int(key("attention.value_length")));
    if (vl != hp->head_dim) return unsupported(f.label() + ": value_length different from key_length");
  }
  hp->n_rot = hp->head_dim;
  if (f.find(key("rope.dimension_count"))) {
    HEARTH_ASSIGN_OR_RETURN(hp->n_rot, f.get_int(key("rope.dimension_count")));
  }
  if (hp->n_rot <= 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0)
    return corrupt(f.label() + ": rope.dimension_count " + std::to_string(hp->n_rot) + " must be even and at most the head size " +
                   std::to_string(hp->head_dim));
  if (f.find(key("attention.layer_norm_rms_epsilon"))) {
    HEARTH_ASSIGN_OR_RETURN(double eps, f.get_float(key("attention.layer_norm_rms_epsilon")));
    hp->rms_eps = static_cast<float>(eps);
  }
  if (f.find(key("rope.freq_base"))) {
    HEARTH_ASSIGN_OR_RETURN(double base, f.get_float(key("rope.freq_base")));
    hp->rope_base = static_cast<float>(base);
  }
  if (!(hp->rms_eps >= 0) || !(hp->rope_base > 0))
    return corrupt(f.label() + ": rms epsilon or rope.freq_base out of range");
  if (f.find(key("rope.scaling.type"))) {
    std::string t = f.get_string_or(key("rope.scaling.type"), "");
    if (t != "none" && t != "")
      return unsupported(f.label() + ": rope scaling '" + t + "' is not implemented");
  }
  return Status();
}

}  // namespace

Status load_llama_family(Model& m, const LlamaVariant& v) {
  const gguf::File& f = *m.file_;
  std::string arch = f.get_string_or("general.architecture", "");
  HParams& hp = m.hp_;
  HEARTH_RETURN_IF_ERROR(read_hparams(f, arch, &hp));
  hp.rope = v.rope;
  const gguf::TensorInfo* te = f.tensor("token_embd.weight");
  if (!te) return not_found(f.label() + ": tensor 'token_embd.weight' is missing");
  hp.n_vocab = te->ne[1];
  HEARTH_RETURN_IF_ERROR(positive(f, "token_embd.weight rows", hp.n_vocab, 1 << 24));
  const int64_t d = hp.n_embd, q_dim = hp.n_head * hp.head_dim, kv_dim = hp.n_head_kv * hp.head_dim;
  HEARTH_RETURN_IF_ERROR(bind_weight(f, "token_embd.weight", d, hp.n_vocab, true, &m.tok_embd));
  HEARTH_RETURN_IF_ERROR(bind_weight(f, "output_norm.weight", d, 1, true, &m.output_norm));
  HEARTH_RETURN_IF_ERROR(bind_weight(f, "output.weight", d, hp.n_vocab, false, &m.output));
  if (!m.output.present()) m.output = m.tok_embd;  // tied embeddings
  m.layers.resize(static_cast<size_t>(hp.n_layer));
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    LayerWeights& L = m.layers[static_cast<size_t>(l)];
    std::string p = "blk." + std::to_string(l) + ".";
    HEARTH_RETURN_IF_ERROR(bind_weight(f, p + "attn_norm.weight", d, 1, true, &L.attn_norm));
    HEARTH_RETURN_IF_ERROR(bind_weight(f, p + "attn_q.weight", d, q_dim, true, &L.wq));
    HEARTH_RETURN_IF_ERROR(bind_weight(f, p + "attn_k.weight", d, kv_dim, true, &L.wk));
    HEARTH_RETURN_IF_ERROR(bind_weight(f, p + "attn_v.weight", d, kv_dim, true, &L.wv));
    HEARTH_RETURN_IF_ERROR(bind_weight(f, p + "attn_output.weight", q_dim, d, true, &L.wo));
    HEARTH_RETURN_IF_ERROR(bind_weight(f, p + "attn_q.bias", q_dim, 1, v.qkv_bias, &L.bq));
    HEARTH_RETURN_IF_ERROR(bind_weight(f, p + "attn_k.bias", kv_dim, 1, v.qkv_bias, &L.bk));
    HEARTH_RETURN_IF_ERROR(bind_weight(f, p + "attn_v.bias", kv_dim, 1, v.qkv_bias, &L.bv));
    HEARTH_RETURN_IF_ERROR(bind_weight(f, p + "ffn_norm.weight", d, 1, true, &L.ffn_norm));
    HEARTH_RETURN_IF_ERROR(bind_weight(f, p + "ffn_gate.weight", d, hp.n_ff, true, &L.w_gate));
    HEARTH_RETURN_IF_ERROR(bind_weight(f, p + "ffn_up.weight", d, hp.n_ff, true, &L.w_up));
    HEARTH_RETURN_IF_ERROR(bind_weight(f, p + "ffn_down.weight", hp.n_ff, d, true, &L.w_down));
  }
  return Status();
}

Status load_llama(Model& m) { return load_llama_family(m, LlamaVariant{RopeType::kNorm, false}); }

}  // namespace hearth::model
