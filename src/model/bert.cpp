#include "model/bert.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/kernels.h"
#include "model/attention.h"
#include "model/repack.h"
#include "tensor/float_math.h"
#include "tensor/fp16.h"
#include "tensor/kv_layout.h"
#include "tensor/type_ops.h"

namespace hearth::model {

namespace {

Status bind_tensor(const gguf::File& f, const std::string& name, int64_t n_in, int64_t n_out, Weight* out) {
  const gguf::TensorInfo* t = f.tensor(name);
  if (!t) return not_found(f.label() + ": tensor '" + name + "' is missing");
  if (t->ne[0] != n_in || t->ne[1] != n_out || t->ne[2] != 1 || t->ne[3] != 1)
    return corrupt(f.label() + ": tensor '" + name + "' has shape " + t->shape_string() + ", expected [" +
                   std::to_string(n_in) + ", " + std::to_string(n_out) + "]");
  *out = {.name = name, .type = t->type, .n_in = n_in, .n_out = n_out, .data = t->data, .row_bytes = row_bytes(t->type, n_in)};
  return Status();
}

void to_floats(const Weight& w, std::vector<float>* out) {
  out->resize(static_cast<size_t>(w.n_in));
  tensor::type_ops(w.type).to_float(w.data, out->data(), w.n_in);
}

// Mean and variance summed in double, in 8 independent lanes (which the
// compiler vectorizes; one running sum cannot be reordered) and then added.
void layer_norm(float* x, int64_t n, const float* w, const float* b, float eps) {
  constexpr int kLanes = 8;
  double part[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) part[l] += x[i + l];
  double mean = 0;
  for (; i < n; ++i) mean += x[i];
  for (double p : part) mean += p;
  mean /= static_cast<double>(n);
  double vpart[kLanes] = {};
  for (i = 0; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) vpart[l] += (x[i + l] - mean) * (x[i + l] - mean);
  double var = 0;
  for (; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  for (double p : vpart) var += p;
  var /= static_cast<double>(n);
  const float inv = static_cast<float>(1.0 / std::sqrt(var + eps)), m = static_cast<float>(mean);
  for (i = 0; i < n; ++i) x[i] = ((x[i] - m) * inv) * w[i] + b[i];
}

}  // namespace

Result<std::shared_ptr<BertModel>> BertModel::from_file(std::shared_ptr<gguf::File> file) {
  auto m = std::shared_ptr<BertModel>(new BertModel());
  const gguf::File& f = *file;
  m->file_ = file;
  HEARTH_ASSIGN_OR_RETURN(m->n_embd_, f.get_int("bert.embedding_length"));
  HEARTH_ASSIGN_OR_RETURN(int64_t n_layer, f.get_int("bert.block_count"));
  HEARTH_ASSIGN_OR_RETURN(m->n_head_, f.get_int("bert.attention.head_count"));
  HEARTH_ASSIGN_OR_RETURN(m->n_ff_, f.get_int("bert.feed_forward_length"));
  HEARTH_ASSIGN_OR_RETURN(m->n_ctx_, f.get_int("bert.context_length"));
  m->eps_ = static_cast<float>(f.get_float_or("bert.attention.layer_norm_epsilon", 1e-12));
  int64_t pool = f.get_int_or("bert.pooling_type", 1);
  m->pooling_ = pool == 2 ? Pooling::kCls : Pooling::kMean;
  if (m->n_embd_ <= 0 || m->n_embd_ > (1 << 16) || n_layer <= 0 || n_layer > 1024 || m->n_head_ <= 0 ||
      m->n_embd_ % m->n_head_ != 0 || m->n_ff_ <= 0 || m->n_ff_ > (1 << 20) || m->n_ctx_ <= 0 || m->n_ctx_ > (1 << 20))
    return corrupt(f.label() + ": bert hyper-parameters out of range");
  const gguf::TensorInfo* te = f.tensor("token_embd.weight");
  if (!te) return not_found(f.label() + ": tensor 'token_embd.weight' is missing");
  m->n_vocab_ = te->ne[1];
  const int64_t d = m->n_embd_;
  HEARTH_RETURN_IF_ERROR(bind_tensor(f, "token_embd.weight", d, m->n_vocab_, &m->tok_embd_));
  const gguf::TensorInfo* tt = f.tensor("token_types.weight");
  if (!tt) return not_found(f.label() + ": tensor 'token_types.weight' is missing");
  HEARTH_RETURN_IF_ERROR(bind_tensor(f, "token_types.weight", d, tt->ne[1], &m->type_embd_));
  HEARTH_RETURN_IF_ERROR(bind_tensor(f, "position_embd.weight", d, m->n_ctx_, &m->pos_embd_));
  HEARTH_RETURN_IF_ERROR(bind_tensor(f, "token_embd_norm.weight", d, 1, &m->embd_norm_.w));
  HEARTH_RETURN_IF_ERROR(bind_tensor(f, "token_embd_norm.bias", d, 1, &m->embd_norm_.b));
  m->layers_.resize(static_cast<size_t>(n_layer));
  for (int64_t l = 0; l < n_layer; ++l) {
    Layer& L = m->layers_[static_cast<size_t>(l)];
    std::string p = "blk." + std::to_string(l) + ".";
    HEARTH_RETURN_IF_ERROR(bind_tensor(f, p + "attn_q.weight", d, d, &L.wq));
    HEARTH_RETURN_IF_ERROR(bind_tensor(f, p + "attn_q.bias", d, 1, &L.bq));
    HEARTH_RETURN_IF_ERROR(bind_tensor(f, p + "attn_k.weight", d, d, &L.wk));
    HEARTH_RETURN_IF_ERROR(bind_tensor(f, p + "attn_k.bias", d, 1, &L.bk));
    HEARTH_RETURN_IF_ERROR(bind_tensor(f, p + "attn_v.weight", d, d, &L.wv));
    HEARTH_RETURN_IF_ERROR(bind_tensor(f, p + "attn_v.bias", d, 1, &L.bv));
    HEARTH_RETURN_IF_ERROR(bind_tensor(f, p + "attn_output.weight", d, d, &L.wo));
    HEARTH_RETURN_IF_ERROR(bind_tensor(f, p + "attn_output.bias", d, 1, &L.bo));
    HEARTH_RETURN_IF_ERROR(bind_tensor(f, p + "attn_output_norm.weight", d, 1, &L.attn_norm.w));
    HEARTH_RETURN_IF_ERROR(bind_tensor(f, p + "attn_output_norm.bias", d, 1, &L.attn_norm.b));
    HEARTH_RETURN_IF_ERROR(bind_tensor(f, p + "ffn_up.weight", d, m->n_ff_, &L.w_up));
    HEARTH_RETURN_IF_ERROR(bind_tensor(f, p + "ffn_up.bias", m->n_ff_, 1, &L.b_up));
    HEARTH_RETURN_IF_ERROR(bind_tensor(f, p + "ffn_down.weight", m->n_ff_, d, &L.w_down));
    HEARTH_RETURN_IF_ERROR(bind_tensor(f, p + "ffn_down.bias", d, 1, &L.b_down));
    HEARTH_RETURN_IF_ERROR(bind_tensor(f, p + "layer_output_norm.weight", d, 1, &L.out_norm.w));
    HEARTH_RETURN_IF_ERROR(bind_tensor(f, p + "layer_output_norm.bias", d, 1, &L.out_norm.b));
  }
  for (const Weight* w : {&m->embd_norm_.w, &m->embd_norm_.b})
    if (w->type != DType::kF32 && w->type != DType::kF16) return unsupported(f.label() + ": norm tensors must be F32 or F16");
  if (repack_enabled()) {
    std::vector<Weight*> ws;
    for (Layer& L : m->layers_)
      for (Weight* w : {&L.wq, &L.bq, &L.wk, &L.bk, &L.wv, &L.bv, &L.wo, &L.bo, &L.attn_norm.w, &L.attn_norm.b, &L.w_up,
                        &L.b_up, &L.w_down, &L.b_down, &L.out_norm.w, &L.out_norm.b})
        ws.push_back(w);
    HEARTH_ASSIGN_OR_RETURN(m->repacked_, repack_weights(ws, f, kernels::active(), core::physical_cores()));
  }
  return m;
}

Result<std::vector<float>> BertModel::embed(Workspace& ws, std::span<const int32_t> tokens, Pooling pooling) const {
  const int64_t n = static_cast<int64_t>(tokens.size()), d = n_embd_, hd = d / n_head_;
  if (n == 0) return invalid_argument("embed: no tokens");
  if (n > n_ctx_) return out_of_range("input has " + std::to_string(n) + " tokens; the model's context is " + std::to_string(n_ctx_));
  for (int32_t t : tokens)
    if (t < 0 || t >= n_vocab_) return invalid_argument("token id " + std::to_string(t) + " is outside the vocabulary");
  // Buffers: the workspace's, kept between calls (sized up once, not
  // allocated and page-faulted per input).
  std::vector<float>& x = ws.x;
  x.resize(static_cast<size_t>(n * d));
  std::vector<float> tmp(static_cast<size_t>(d)), w, b;
  std::vector<float> type0(static_cast<size_t>(d));
  tensor::type_ops(type_embd_.type).to_float(type_embd_.row(0), type0.data(), d);
  const kernels::Kernels& kern = kernels::active();
  // Row operations split over the tokens (as the decoder's forward pass does).
  auto per_token = [&](auto&& fn) {
    ws.pool.parallel_for(static_cast<size_t>(n), [&](size_t t0, size_t t1, int) {
      for (size_t t = t0; t < t1; ++t) fn(static_cast<int64_t>(t));
    });
  };
  auto norm = [&](const Norm& nm, float* rows) {
    to_floats(nm.w, &w);
    to_floats(nm.b, &b);
    per_token([&](int64_t t) { layer_norm(rows + t * d, d, w.data(), b.data(), eps_); });
  };
  for (int64_t t = 0; t < n; ++t) {
    dequantize_row(tok_embd_, tokens[t], x.data() + t * d);
    dequantize_row(pos_embd_, t, tmp.data());
    for (int64_t i = 0; i < d; ++i) x[t * d + i] += tmp[i] + type0[i];
  }
  norm(embd_norm_, x.data());
  std::vector<float>&q = ws.q, &k = ws.k, &v = ws.v, &att = ws.att, &o = ws.h, &up = ws.ffa;
  for (auto* buf : {&q, &k, &v, &att, &o}) buf->resize(x.size());
  up.resize(static_cast<size_t>(n * n_ff_));
  // The cache layout attention takes (model::KvCache): per head, keys in
  // blocks of 16 positions (tensor/kv_layout.h) and value rows; the keys
  // and values as F16 first (kh, vh). The cache starts zeroed, as the
  // positions past n in the last key block are never written.
  const size_t head_stride = static_cast<size_t>(tensor::k_positions(n) * hd);
  const size_t cache = head_stride * static_cast<size_t>(n_head_);
  ws.halves.resize(2 * x.size() + 2 * cache);
  uint16_t *kh = ws.halves.data(), *vh = kh + x.size(), *kc = vh + x.size(), *vc = kc + cache;
  std::fill(kc, kc + 2 * cache, uint16_t{0});
  auto linear = [&](const Weight& wt, const Weight& bias, const float* in, float* out, int64_t n_out) {
    ws.mm.run(wt, in, n, out, ws.pool);
    to_floats(bias, &b);
    per_token([&](int64_t t) { kern.add(n_out, out + t * n_out, b.data()); });
  };
  for (const Layer& L : layers_) {
    {  // Q, K and V in one parallel section over one prepared input
      const MatMul::Output qkv[] = {{&L.wq, q.data()}, {&L.wk, k.data()}, {&L.wv, v.data()}};
      ws.mm.run_shared(qkv, x.data(), n, ws.pool);
      for (const auto& bias_out : {std::pair{&L.bq, q.data()}, {&L.bk, k.data()}, {&L.bv, v.data()}}) {
        float* out = bias_out.second;  // (a structured binding cannot be captured by clang 14's lambdas)
        to_floats(*bias_out.first, &b);
        per_token([&](int64_t t) { kern.add(d, out + t * d, b.data()); });
      }
    }
    per_token([&](int64_t t) {
      kern.quantize(DType::kF16)(k.data() + t * d, kh + t * d, d);
      kern.quantize(DType::kF16)(v.data() + t * d, vh + t * d, d);
    });
    ws.pool.parallel_for(static_cast<size_t>(n_head_), [&](size_t h0, size_t h1, int) {
      for (size_t h = h0; h < h1; ++h)
        for (int64_t t = 0; t < n; ++t) {
          tensor::store_k(hd, kh + t * d + static_cast<int64_t>(h) * hd, t, kc + h * head_stride);
          std::copy_n(vh + t * d + static_cast<int64_t>(h) * hd, hd, vc + h * head_stride + t * hd);
        }
    });
    // Bidirectional: every token attends to all n positions.
    std::vector<AttentionQuery>& queries = ws.queries;
    queries.resize(static_cast<size_t>(n));
    for (int64_t t = 0; t < n; ++t)
      queries[t] = {q.data() + t * d,
                    att.data() + t * d,
                    reinterpret_cast<const uint8_t*>(kc),
                    reinterpret_cast<const uint8_t*>(vc),
                    n,
                    head_stride * sizeof(uint16_t),
                    static_cast<size_t>(hd) * sizeof(uint16_t)};
    attention({n_head_, n_head_, hd}, queries, ws.pool, ws.scores);
    linear(L.wo, L.bo, att.data(), o.data(), d);
    per_token([&](int64_t t) { kern.add(d, x.data() + t * d, o.data() + t * d); });
    norm(L.attn_norm, x.data());
    linear(L.w_up, L.b_up, x.data(), up.data(), n_ff_);
    per_token([&](int64_t t) { kern.gelu(n_ff_, up.data() + t * n_ff_, up.data() + t * n_ff_); });
    linear(L.w_down, L.b_down, up.data(), o.data(), d);
    per_token([&](int64_t t) { kern.add(d, x.data() + t * d, o.data() + t * d); });
    norm(L.out_norm, x.data());
  }
  std::vector<float> out(static_cast<size_t>(d), 0.0f);
  if (pooling == Pooling::kCls) {
    std::memcpy(out.data(), x.data(), d * sizeof(float));
  } else {
    for (int64_t t = 0; t < n; ++t)
      for (int64_t i = 0; i < d; ++i) out[i] += x[t * d + i];
    for (auto& e : out) e /= static_cast<float>(n);
  }
  return out;
}

}  // namespace hearth::model
