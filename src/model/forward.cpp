// The llama-family forward pass over a batch of tokens, and Model/Context
// plumbing.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/attention.h"
#include "model/model.h"
#include "model/registry.h"
#include "tensor/float_math.h"
#include "tensor/fp16.h"
#include "tensor/type_ops.h"

namespace hearth::model {

Result<std::shared_ptr<Model>> Model::from_file(std::shared_ptr<gguf::File> file) {
  auto m = std::make_shared<Model>();
  m->file_ = std::move(file);
  HEARTH_ASSIGN_OR_RETURN(std::string arch, m->file_->get_string("general.architecture"));
  for (const auto& a : architectures())
    if (arch == a.name) {
      HEARTH_RETURN_IF_ERROR(a.load(*m));
      return m;
    }
  return unsupported(m->file_->label() + ": architecture '" + arch + "' is not supported");
}

Result<std::shared_ptr<Model>> Model::load(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(gguf::File f, gguf::File::open(path));
  return from_file(std::make_shared<gguf::File>(std::move(f)));
}

Context::Context(std::shared_ptr<const Model> model, int64_t n_ctx, int n_threads)
    : model_(std::move(model)),
      n_ctx_(n_ctx > 0 ? n_ctx : model_->hparams().n_ctx_train),
      pool_(n_threads > 0 ? n_threads : core::physical_cores()) {
  const HParams& hp = model_->hparams();
  size_t kv = static_cast<size_t>(n_ctx_ * hp.n_head_kv * hp.head_dim);
  k_cache_.assign(static_cast<size_t>(hp.n_layer), std::vector<uint16_t>(kv));
  v_cache_.assign(static_cast<size_t>(hp.n_layer), std::vector<uint16_t>(kv));
}

Status Context::eval(std::span<const int32_t> tokens, bool all_logits, std::vector<float>* logits) {
  if (tokens.empty()) return invalid_argument("eval: no tokens");
  if (n_past_ + static_cast<int64_t>(tokens.size()) > n_ctx_)
    return out_of_range("context length " + std::to_string(n_ctx_) + " exceeded: " + std::to_string(n_past_) +
                        " tokens in context + " + std::to_string(tokens.size()) + " new");
  const int64_t n_vocab = model_->hparams().n_vocab;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= n_vocab)
      return invalid_argument("token id " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                              " is outside the vocabulary (0.." + std::to_string(n_vocab - 1) + ")");
  HEARTH_RETURN_IF_ERROR(model_->forward(*this, tokens, all_logits, logits));
  n_past_ += static_cast<int64_t>(tokens.size());
  return Status();
}

namespace {

void load_vector(const Weight& w, std::vector<float>* out) {
  out->resize(static_cast<size_t>(w.n_in));
  tensor::type_ops(w.type).to_float(w.data, out->data(), w.n_in);
}

}  // namespace

Status Model::forward(Context& c, std::span<const int32_t> tokens, bool all_logits, std::vector<float>* logits) const {
  const HParams& hp = hp_;
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t d = hp.n_embd, hd = hp.head_dim, q_dim = hp.n_head * hd, kv_dim = hp.n_head_kv * hd;
  const int64_t pos0 = c.n_past_;
  core::ThreadPool& pool = c.pool_;

  c.x_.resize(n * d);
  c.h_.resize(n * std::max(d, q_dim));
  c.q_.resize(n * q_dim);
  c.k_.resize(n * kv_dim);
  c.v_.resize(n * kv_dim);
  c.att_.resize(n * q_dim);
  c.ffa_.resize(n * hp.n_ff);
  c.ffb_.resize(n * hp.n_ff);
  c.rope_cs_.resize(n * hp.n_rot);
  for (int64_t t = 0; t < n; ++t) tensor::rope_table(hp.n_rot, pos0 + t, hp.rope_base, c.rope_cs_.data() + t * hp.n_rot);
  std::vector<float> norm_w, bias;

  for (int64_t t = 0; t < n; ++t) dequantize_row(tok_embd, tokens[t], c.x_.data() + t * d);

  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const LayerWeights& L = layers[static_cast<size_t>(l)];
    load_vector(L.attn_norm, &norm_w);
    for (int64_t t = 0; t < n; ++t) tensor::rms_norm(c.x_.data() + t * d, norm_w.data(), c.h_.data() + t * d, d, hp.rms_eps);
    c.mm_.run(L.wq, c.h_.data(), n, c.q_.data(), pool);
    c.mm_.run(L.wk, c.h_.data(), n, c.k_.data(), pool);
    c.mm_.run(L.wv, c.h_.data(), n, c.v_.data(), pool);
    auto add_bias = [&](const Weight& b, std::vector<float>& y, int64_t dim) {
      if (!b.present()) return;
      load_vector(b, &bias);
      for (int64_t t = 0; t < n; ++t)
        for (int64_t i = 0; i < dim; ++i) y[t * dim + i] += bias[i];
    };
    add_bias(L.bq, c.q_, q_dim);
    add_bias(L.bk, c.k_, kv_dim);
    add_bias(L.bv, c.v_, kv_dim);
    const bool neox = hp.rope == RopeType::kNeox;
    uint16_t* kc = c.k_cache_[l].data();
    uint16_t* vc = c.v_cache_[l].data();
    for (int64_t t = 0; t < n; ++t) {
      const float* cs = c.rope_cs_.data() + t * hp.n_rot;
      for (int64_t h = 0; h < hp.n_head; ++h) tensor::rope(c.q_.data() + t * q_dim + h * hd, hp.n_rot, cs, neox);
      for (int64_t h = 0; h < hp.n_head_kv; ++h) tensor::rope(c.k_.data() + t * kv_dim + h * hd, hp.n_rot, cs, neox);
    }
    tensor::float_to_f16(c.k_.data(), kc + pos0 * kv_dim, n * kv_dim);
    tensor::float_to_f16(c.v_.data(), vc + pos0 * kv_dim, n * kv_dim);
    attention({hp.n_head, hp.n_head_kv, hd, pos0, n}, c.q_.data(), kc, vc, c.att_.data(), pool, c.scores_);
    c.mm_.run(L.wo, c.att_.data(), n, c.h_.data(), pool);
    for (int64_t i = 0; i < n * d; ++i) c.x_[i] += c.h_[i];

    load_vector(L.ffn_norm, &norm_w);
    for (int64_t t = 0; t < n; ++t) tensor::rms_norm(c.x_.data() + t * d, norm_w.data(), c.h_.data() + t * d, d, hp.rms_eps);
    c.mm_.run(L.w_gate, c.h_.data(), n, c.ffa_.data(), pool);
    c.mm_.run(L.w_up, c.h_.data(), n, c.ffb_.data(), pool);
    for (int64_t i = 0; i < n * hp.n_ff; ++i) c.ffa_[i] = tensor::silu(c.ffa_[i]) * c.ffb_[i];
    c.mm_.run(L.w_down, c.ffa_.data(), n, c.h_.data(), pool);
    for (int64_t i = 0; i < n * d; ++i) c.x_[i] += c.h_[i];
  }

  const int64_t first = all_logits ? 0 : n - 1, n_out = n - first;
  load_vector(output_norm, &norm_w);
  for (int64_t t = 0; t < n_out; ++t)
    tensor::rms_norm(c.x_.data() + (first + t) * d, norm_w.data(), c.h_.data() + t * d, d, hp.rms_eps);
  logits->resize(static_cast<size_t>(n_out * hp.n_vocab));
  c.mm_.run(output, c.h_.data(), n_out, logits->data(), pool);
  return Status();
}

}  // namespace hearth::model
