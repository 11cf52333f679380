// The llama-family forward pass over a batch of tokens (possibly from several
// sequences), and the Model / KvCache / Context plumbing.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <stdexcept>
#include <utility>

#include "model/attention.h"
#include "model/model.h"
#include "model/registry.h"
#include "model/repack.h"
#include "tensor/float_math.h"
#include "tensor/fp16.h"
#include "tensor/kv_layout.h"
#include "tensor/type_ops.h"

namespace hearth::model {

Result<std::shared_ptr<Model>> Model::from_file(std::shared_ptr<gguf::File> file) {
  auto m = std::make_shared<Model>();
  m->file_ = std::move(file);
  HEARTH_ASSIGN_OR_RETURN(std::string arch, m->file_->get_string("general.architecture"));
  for (const auto& a : architectures())
    if (arch == a.name) {
      HEARTH_RETURN_IF_ERROR(a.load(*m));
      if (repack_enabled()) {
        std::vector<Weight*> ws{&m->output, &m->output_norm};
        for (LayerWeights& L : m->layers)
          for (Weight* w : L.all()) ws.push_back(w);
        HEARTH_ASSIGN_OR_RETURN(m->repacked_, repack_weights(ws, *m->file_, kernels::active(), core::physical_cores()));
      }
      return m;
    }
  return unsupported(m->file_->label() + ": architecture '" + arch + "' is not supported");
}

Result<std::shared_ptr<Model>> Model::load(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(gguf::File f, gguf::File::open(path));
  return from_file(std::make_shared<gguf::File>(std::move(f)));
}

size_t Model::weight_bytes_per_token() const {
  auto bytes = [](const Weight& w) { return w.present() ? static_cast<size_t>(w.n_out) * w.row_bytes : 0; };
  size_t total = bytes(output) + bytes(output_norm) + tok_embd.row_bytes;
  for (const LayerWeights& L : layers)
    for (const Weight* w : L.all()) total += bytes(*w);
  return total;
}

KvCache::KvCache(const HParams& hp, int64_t n_ctx_in, tensor::KvType type)
    : n_ctx(n_ctx_in),
      type_(type),
      row_bytes_(tensor::kv_row_bytes(type, hp.head_dim)),
      head_stride_(tensor::kv_head_bytes(type, hp.head_dim, n_ctx_in)),
      per_layer_(head_stride_ * static_cast<size_t>(hp.n_head_kv)) {
  if (!tensor::kv_type_fits(type, hp.head_dim)) throw std::invalid_argument(check_kv_type(hp, type).message());
  auto mem = core::AnonMemory::allocate(bytes_for(hp, n_ctx_in, type), core::AnonMemory::Pages::kSmall);
  if (!mem.ok()) throw std::bad_alloc();
  mem_ = std::move(mem.value());
}

size_t KvCache::bytes_for(const HParams& hp, int64_t n_ctx, tensor::KvType type) {
  return static_cast<size_t>(2 * hp.n_layer * hp.n_head_kv) * tensor::kv_head_bytes(type, hp.head_dim, n_ctx);
}

size_t KvCache::bytes_per_token(const HParams& hp, tensor::KvType type) {
  return static_cast<size_t>(2 * hp.n_layer * hp.n_head_kv) * tensor::kv_row_bytes(type, hp.head_dim);
}

Status check_kv_type(const HParams& hp, tensor::KvType t) {
  if (tensor::kv_type_fits(t, hp.head_dim)) return Status();
  return invalid_argument(std::string("a ") + tensor::kv_type_name(t) + " KV cache needs heads of a multiple of " +
                          std::to_string(tensor::kQK) + " values; this model's have " + std::to_string(hp.head_dim) +
                          " (use f16)");
}

Status validate_tokens(const Model& m, std::span<const int32_t> tokens) {
  const int64_t n_vocab = m.hparams().n_vocab;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= n_vocab)
      return invalid_argument("token id " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                              " is outside the vocabulary (0.." + std::to_string(n_vocab - 1) + ")");
  return Status();
}

Context::Context(std::shared_ptr<const Model> model, int64_t n_ctx, int n_threads, tensor::KvType kv_type)
    : model_(std::move(model)),
      kv_(model_->hparams(), n_ctx > 0 ? n_ctx : model_->hparams().n_ctx_train, kv_type),
      ws_(n_threads) {
  // Attention scores for the whole context, so generation never grows them.
  const HParams& hp = model_->hparams();
  ws_.scores.reserve(static_cast<size_t>(ws_.pool.n_threads()) * static_cast<size_t>(hp.n_head / hp.n_head_kv) *
                     static_cast<size_t>(kv_.n_ctx));
}

Status Context::eval(std::span<const int32_t> tokens, bool all_logits, std::vector<float>* logits) {
  if (tokens.empty()) return invalid_argument("eval: no tokens");
  if (kv_.n_past + static_cast<int64_t>(tokens.size()) > kv_.n_ctx)
    return out_of_range("context length " + std::to_string(kv_.n_ctx) + " exceeded: " + std::to_string(kv_.n_past) +
                        " tokens in context + " + std::to_string(tokens.size()) + " new");
  HEARTH_RETURN_IF_ERROR(validate_tokens(*model_, tokens));
  const int64_t n_past0 = kv_.n_past;
  if (tokens.size() > kPassTokens) logits->clear();
  for (size_t begin = 0; begin < tokens.size(); begin += kPassTokens) {
    const size_t end = std::min(tokens.size(), begin + kPassTokens);
    batch_.clear();
    for (size_t i = begin; i < end; ++i)
      batch_.push_back({tokens[i], kv_.n_past + static_cast<int64_t>(i - begin), &kv_, all_logits || i + 1 == tokens.size()});
    // One pass writes the caller's vector directly; several append.
    std::vector<float>* out = tokens.size() > kPassTokens ? &pass_logits_ : logits;
    if (Status st = model_->forward(ws_, batch_, out); !st.ok()) {
      kv_.n_past = n_past0;  // the cache is unchanged on failure
      return st;
    }
    if (out != logits) logits->insert(logits->end(), out->begin(), out->end());
    kv_.n_past += static_cast<int64_t>(end - begin);
  }
  return Status();
}

namespace {

// A weight vector (norm, bias) as floats: aligned F32 data in place (no copy
// per layer and token), anything else converted into *buf.
const float* load_vector(const Weight& w, std::vector<float>* buf) {
  if (w.type == DType::kF32 && reinterpret_cast<uintptr_t>(w.data) % alignof(float) == 0)
    return reinterpret_cast<const float*>(w.data);
  buf->resize(static_cast<size_t>(w.n_in));
  tensor::type_ops(w.type).to_float(w.data, buf->data(), w.n_in);
  return buf->data();
}

}  // namespace

Status Model::forward(Workspace& ws, std::span<const BatchToken> batch, std::vector<float>* logits,
                      std::vector<float>* hidden) const {
  const HParams& hp = hp_;
  const int64_t n = static_cast<int64_t>(batch.size());
  const int64_t d = hp.n_embd, hd = hp.head_dim, q_dim = hp.n_head * hd, kv_dim = hp.n_head_kv * hd;
  for (const auto& t : batch)
    if (t.token < 0 || t.token >= hp.n_vocab || t.pos < 0 || t.pos >= t.kv->n_ctx)
      return invalid_argument("forward: token " + std::to_string(t.token) + " at position " + std::to_string(t.pos) +
                              " is out of range");
  core::ThreadPool& pool = ws.pool;
  using Phase = ForwardProfile::Phase;
  PhaseClock clock(ws.profile);
  if (ws.profile) ws.profile->tokens += n;
  ws.x.resize(n * d);
  ws.xn.resize(n * d);
  ws.h.resize(n * std::max(d, q_dim));
  ws.q.resize(n * q_dim);
  ws.k.resize(n * kv_dim);
  ws.v.resize(n * kv_dim);
  ws.att.resize(n * q_dim);
  ws.ffa.resize(n * hp.n_ff);
  ws.ffb.resize(n * hp.n_ff);
  ws.ffh.resize(n * hp.n_ff);
  ws.rope_cs.resize(n * hp.n_rot);
  for (int64_t t = 0; t < n; ++t) {
    tensor::rope_table(hp.n_rot, batch[t].pos, hp.rope_base, ws.rope_cs.data() + t * hp.n_rot);
    dequantize_row(tok_embd, batch[t].token, ws.x.data() + t * d);
  }
  std::vector<AttentionQuery>& queries = ws.queries;
  queries.resize(static_cast<size_t>(n));
  const bool neox = hp.rope == RopeType::kNeox;
  const tensor::FromFloatFn to_f16 = kernels::active().quantize(DType::kF16);

  // Per-token row operations run split over the tokens of the batch (inline
  // for one token).
  const kernels::Kernels& kern = kernels::active();
  auto per_token = [&](auto&& fn) {
    pool.parallel_for(static_cast<size_t>(n), [&](size_t b, size_t e, int) {
      for (size_t t = b; t < e; ++t) fn(static_cast<int64_t>(t));
    });
  };
  auto add_residual = [&](int64_t t) { kern.add(d, ws.x.data() + t * d, ws.h.data() + t * d); };
  // Generation: after its part of each parallel job, every worker reads the
  // start of its share of the next product (warm_next_product).
  auto warm_next = [&](std::initializer_list<const Weight*> next) {
    if (n == 1) warm_next_product(pool, next);
  };
  auto bytes = [](const Weight& w) { return static_cast<double>(w.n_out) * static_cast<double>(w.row_bytes); };
  // Multiply-adds of a product over `rows` activation rows, and of one layer's
  // attention (scores and mix: n_head · head_dim per position attended).
  auto macs = [](const Weight& w, int64_t rows) {
    return static_cast<double>(w.n_in) * static_cast<double>(w.n_out) * static_cast<double>(rows);
  };
  double attended = 0;
  if (ws.profile)
    for (const BatchToken& t : batch) attended += static_cast<double>(t.pos + 1);
  const double attention_macs = 2.0 * attended * static_cast<double>(hp.n_head * hd);

  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const LayerWeights& L = layers[static_cast<size_t>(l)];
    const float* attn_norm = load_vector(L.attn_norm, &ws.norm_w);
    per_token([&](int64_t t) {
      kern.rms_norm(ws.x.data() + t * d, attn_norm, ws.xn.data() + t * d, d, hp.rms_eps);
    });
    const MatMul::Output qkv[] = {{&L.wq, ws.q.data()}, {&L.wk, ws.k.data()}, {&L.wv, ws.v.data()}};
    clock.lap(Phase::kRowOps);
    warm_next({&L.wo});
    ws.mm.run_shared(qkv, ws.xn.data(), n, pool);
    clock.lap(Phase::kQkv, bytes(L.wq) + bytes(L.wk) + bytes(L.wv), macs(L.wq, n) + macs(L.wk, n) + macs(L.wv, n));
    auto add_bias = [&](const Weight& b, std::vector<float>& y, int64_t dim) {
      if (!b.present()) return;
      const float* bias = load_vector(b, &ws.bias);
      for (int64_t t = 0; t < n; ++t) kern.add(dim, y.data() + t * dim, bias);
    };
    add_bias(L.bq, ws.q, q_dim);
    add_bias(L.bk, ws.k, kv_dim);
    add_bias(L.bv, ws.v, kv_dim);
    per_token([&](int64_t t) {
      const float* cs = ws.rope_cs.data() + t * hp.n_rot;
      for (int64_t h = 0; h < hp.n_head; ++h) kern.rope(ws.q.data() + t * q_dim + h * hd, hp.n_rot, cs, neox);
      for (int64_t h = 0; h < hp.n_head_kv; ++h) kern.rope(ws.k.data() + t * kv_dim + h * hd, hp.n_rot, cs, neox);
      KvCache& kv = *batch[t].kv;
      const int64_t pos = batch[t].pos;
      for (int64_t h = 0; h < hp.n_head_kv; ++h) {  // head-major cache (KvCache)
        const size_t head = static_cast<size_t>(h) * kv.head_stride();
        const float* key = ws.k.data() + t * kv_dim + h * hd;
        const float* value = ws.v.data() + t * kv_dim + h * hd;
        uint8_t* v_row = kv.v(l) + head + static_cast<size_t>(pos) * kv.row_bytes();
        if (kv.type() == tensor::KvType::kQ8_0) {
          tensor::BlockQ8_0 blocks[16];  // heads of up to 512 values on the stack
          std::vector<tensor::BlockQ8_0> big(hd > 512 ? static_cast<size_t>(hd / tensor::kQK) : 0);
          tensor::BlockQ8_0* kq = big.empty() ? blocks : big.data();
          kern.quantize(DType::kQ8_0)(key, kq, hd);
          tensor::store_k_q8(hd, kq, pos, kv.k(l) + head);
          kern.quantize(DType::kQ8_0)(value, v_row, hd);
          continue;
        }
        auto* k_head = reinterpret_cast<uint16_t*>(kv.k(l) + head);
        uint16_t halves[256];
        if (hd <= 256) {
          to_f16(key, halves, hd);
          tensor::store_k(hd, halves, pos, k_head);
        } else {
          for (int64_t i = 0; i < hd; ++i) k_head[tensor::k_index(hd, pos, i)] = tensor::f32_to_fp16(key[i]);
        }
        to_f16(value, reinterpret_cast<uint16_t*>(v_row), hd);
      }
    });
    for (int64_t t = 0; t < n; ++t)
      queries[t] = {ws.q.data() + t * q_dim, ws.att.data() + t * q_dim, batch[t].kv->k(l), batch[t].kv->v(l),
                    batch[t].pos + 1, batch[t].kv->head_stride(), batch[t].kv->row_bytes(), batch[t].kv->type()};
    clock.lap(Phase::kRowOps);
    warm_next({&L.wo});
    attention({hp.n_head, hp.n_head_kv, hd}, queries, pool, ws.scores);
    clock.lap(Phase::kAttention, 0, attention_macs);
    warm_next({&L.w_gate, &L.w_up});
    ws.mm.run(L.wo, ws.att.data(), n, ws.h.data(), pool);
    clock.lap(Phase::kAttnOut, bytes(L.wo), macs(L.wo, n));

    const float* ffn_norm = load_vector(L.ffn_norm, &ws.norm_w);
    per_token([&](int64_t t) {
      add_residual(t);
      kern.rms_norm(ws.x.data() + t * d, ffn_norm, ws.xn.data() + t * d, d, hp.rms_eps);
    });
    const MatMul::Output gate_up[] = {{&L.w_gate, ws.ffa.data()}, {&L.w_up, ws.ffb.data()}};
    clock.lap(Phase::kRowOps);
    warm_next({&L.w_down});
    ws.mm.run_shared(gate_up, ws.xn.data(), n, pool);
    clock.lap(Phase::kFfnUp, bytes(L.w_gate) + bytes(L.w_up), macs(L.w_gate, n) + macs(L.w_up, n));
    per_token([&](int64_t t) {
      kern.silu_mul(hp.n_ff, ws.ffa.data() + t * hp.n_ff, ws.ffb.data() + t * hp.n_ff, ws.ffh.data() + t * hp.n_ff);
    });
    clock.lap(Phase::kRowOps);
    if (l + 1 < hp.n_layer) {
      const LayerWeights& next = layers[static_cast<size_t>(l + 1)];
      warm_next({&next.wq, &next.wk, &next.wv});
    } else {
      warm_next({&output});
    }
    ws.mm.run(L.w_down, ws.ffh.data(), n, ws.h.data(), pool);
    clock.lap(Phase::kFfnDown, bytes(L.w_down), macs(L.w_down, n));
    per_token(add_residual);
  }

  const float* out_norm = load_vector(output_norm, &ws.norm_w);
  if (hidden) {
    hidden->resize(static_cast<size_t>(n * d));
    for (int64_t t = 0; t < n; ++t) kern.rms_norm(ws.x.data() + t * d, out_norm, hidden->data() + t * d, d, hp.rms_eps);
  }
  int64_t n_out = 0;
  for (int64_t t = 0; t < n; ++t)
    if (batch[t].logits) kern.rms_norm(ws.x.data() + t * d, out_norm, ws.xn.data() + (n_out++) * d, d, hp.rms_eps);
  logits->resize(static_cast<size_t>(n_out * hp.n_vocab));
  clock.lap(Phase::kRowOps);
  warm_next({&layers[0].wq, &layers[0].wk, &layers[0].wv});  // the next token's first product
  if (n_out > 0) ws.mm.run(output, ws.xn.data(), n_out, logits->data(), pool);
  clock.lap(Phase::kOutput, n_out > 0 ? bytes(output) : 0, macs(output, n_out));
  return Status();
}

}  // namespace hearth::model
