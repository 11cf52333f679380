// Decoder models loaded from GGUF, and the evaluation context that holds a
// sequence's KV cache.
//
// A Model is immutable after loading and may be shared by many Contexts; a
// Context is used by one thread at a time (it owns its thread pool).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/anon_memory.h"
#include "core/thread_pool.h"
#include "gguf/file.h"
#include "model/forward_profile.h"
#include "hearth/status.h"
#include "model/attention.h"
#include "model/matmul.h"
#include "model/weight.h"

namespace hearth::model {

enum class RopeType { kNorm, kNeox };  // adjacent pairs / the two halves of a head

struct HParams {
  std::string arch;
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;
  int64_t n_ff = 0;
  int64_t n_rot = 0;
  float rms_eps = 1e-5f;
  float rope_base = 10000.f;
  RopeType rope = RopeType::kNorm;
};

struct LayerWeights {
  Weight attn_norm, wq, wk, wv, wo, bq, bk, bv;  // b* are 1-row "matrices" (absent when no bias)
  Weight ffn_norm, w_gate, w_up, w_down;

  // Every weight of the layer (repacking, bytes read per token).
  std::array<Weight*, 12> all() {
    return {&attn_norm, &wq, &wk, &wv, &wo, &bq, &bk, &bv, &ffn_norm, &w_gate, &w_up, &w_down};
  }
  std::array<const Weight*, 12> all() const {
    return {&attn_norm, &wq, &wk, &wv, &wo, &bq, &bk, &bv, &ffn_norm, &w_gate, &w_up, &w_down};
  }
};

// One sequence's KV cache: F16 or Q8_0 (tensor/kv_layout.h), per layer
// head-major (each KV head's region head_stride() bytes), so that attention
// streams each KV head contiguously (the position-major layout, rows of one
// head 4 heads apart, read ~30% slower out of cache at 256 positions).
// Within a head, V is one row per position and K is in position-minor blocks
// of 16 positions; a head holds n_ctx rounded up to whole blocks. Q8_0 holds
// 34 bytes per 32 values (F16: 64): long contexts read about half, at
// Q8_0's rounding of every key and value.
// One zero-filled region for all layers (one vector per layer took 0.41-0.46
// ms of attention per token at tg256 against 0.37-0.40), committed in 4 KiB
// pages as positions fill: the first token writes one row per layer and KV
// head, and with huge pages each of those writes zeroed 2 MiB (46 MiB, 10-20
// ms, per new sequence of a 2048-token context: most of the CPU time of an
// 8-request burst on the server). Throws std::bad_alloc when the memory is
// refused, like the vectors it replaced, and std::invalid_argument for a type
// the model's heads do not fit (check_kv_type first).
struct KvCache {
  KvCache(const HParams& hp, int64_t n_ctx, tensor::KvType type = tensor::KvType::kF16);
  int64_t n_ctx;
  int64_t n_past = 0;  // positions filled
  tensor::KvType type() const { return type_; }
  uint8_t* k(int64_t layer) const { return base(layer, 0); }
  uint8_t* v(int64_t layer) const { return base(layer, 1); }
  // Bytes from one KV head's region to the next (K and V alike).
  size_t head_stride() const { return head_stride_; }
  // Bytes of one position of one KV head (a V row).
  size_t row_bytes() const { return row_bytes_; }
  size_t bytes() const { return mem_.size(); }
  static size_t bytes_per_token(const HParams& hp, tensor::KvType type = tensor::KvType::kF16);
  // What a cache of n_ctx positions allocates (bytes() of such a cache): the
  // positions rounded up to whole K blocks.
  static size_t bytes_for(const HParams& hp, int64_t n_ctx, tensor::KvType type = tensor::KvType::kF16);

 private:
  uint8_t* base(int64_t layer, int kv) const {
    return mem_.data() + (2 * static_cast<size_t>(layer) + static_cast<size_t>(kv)) * per_layer_;
  }
  tensor::KvType type_;
  size_t row_bytes_;
  size_t head_stride_;
  size_t per_layer_;  // bytes of one layer's K (or V)
  core::AnonMemory mem_;
};

// Whether the model's heads fit a KV cache of type t (Q8_0: head_dim a
// multiple of 32); the error names the head size.
Status check_kv_type(const HParams& hp, tensor::KvType t);

// Threads and scratch for evaluating batches; reused across calls, used by one
// thread at a time.
class Workspace {
 public:
  explicit Workspace(int n_threads) : pool(n_threads > 0 ? n_threads : core::physical_cores()) {}
  core::ThreadPool pool;
  MatMul mm;
  // x: the residual stream; xn: its normalized rows, the products' input;
  // h: the attention output and FFN down products' output; ffa, ffb: the FFN
  // gate and up products; ffh: silu(gate) · up, the down product's input.
  // Norms, residual and SiLU write buffers no product writes: with the pool's
  // threads in different core complexes, a store into a line another thread
  // wrote (its share of a product's output) waits for that thread's copy to be
  // dropped.
  std::vector<float> x, xn, h, q, k, v, att, ffa, ffb, ffh, scores, rope_cs, norm_w, bias;
  std::vector<AttentionQuery> queries;
  std::vector<uint16_t> halves;  // BertModel: keys and values as F16, then in the cache layout
  ForwardProfile* profile = nullptr;  // when set, forward() adds its phase times
};

// One token of a batch: which sequence's cache it belongs to, at which
// position, and whether its logits are wanted. A batch may mix sequences
// (continuous batching): the matrix products run over all its tokens at once.
struct BatchToken {
  int32_t token;
  int64_t pos;
  KvCache* kv;
  bool logits;
};

class Model {
 public:
  // Loads the architecture named by `general.architecture` through the registry.
  static Result<std::shared_ptr<Model>> load(const std::string& path);
  static Result<std::shared_ptr<Model>> from_file(std::shared_ptr<gguf::File> file);

  const HParams& hparams() const { return hp_; }

  // Applies a LoRA adapter GGUF (tensors "<weight>.lora_a" [n_in, r] and
  // "<weight>.lora_b" [r, n_out], scale adapter.lora.alpha / r). Call before
  // sharing the model; the adapter file stays mapped with the model.
  Status apply_lora(std::shared_ptr<gguf::File> adapter);
  const gguf::File& file() const { return *file_; }
  // Bytes of weights one token's forward pass reads: every layer matrix,
  // norm and bias, the output matrix, and one embedding row.
  size_t weight_bytes_per_token() const;
  // Waits until the repacked weights are in huge pages (they are moved there
  // in the background after load; model/repack.h). For measurements that
  // should not see the small pages; serving and generation need not wait.
  core::AnonMemory::Promotion wait_for_huge_pages() const { return repacked_.wait_for_huge_pages(); }

  // Evaluates a batch: writes each token's K/V at its position in its cache
  // and returns logits [n_wanted, n_vocab] for the tokens that asked, in batch
  // order. Token ids and positions must be valid (see Context::eval).
  // hidden (optional): the final normalized hidden states of every batch
  // token [n, n_embd] (decoder embeddings).
  Status forward(Workspace& ws, std::span<const BatchToken> batch, std::vector<float>* logits,
                 std::vector<float>* hidden = nullptr) const;

  // Architecture loaders fill these (see llama.cpp).
  HParams hp_;
  std::shared_ptr<gguf::File> file_;
  Weight tok_embd, output_norm, output;
  std::vector<LayerWeights> layers;
  std::vector<std::shared_ptr<gguf::File>> adapters_;
  core::AnonMemory repacked_;  // the x16 copies of weights (model/repack.h)
};

// A single sequence with its own cache and workspace (CLI, tests).
class Context {
 public:
  // n_ctx <= 0 uses the model's training context. n_threads <= 0: physical cores.
  Context(std::shared_ptr<const Model> model, int64_t n_ctx, int n_threads,
          tensor::KvType kv_type = tensor::KvType::kF16);

  // Evaluates `tokens` after what is already in the cache. Fails with
  // kOutOfRange when the context would overflow, kInvalidArgument for an id
  // outside the vocabulary; the cache is unchanged on failure.
  // logits: [n, n_vocab] when all_logits, else [1, n_vocab] (the last token).
  // Runs forward passes of at most kPassTokens tokens.
  Status eval(std::span<const int32_t> tokens, bool all_logits, std::vector<float>* logits);
  // Prompt tokens per forward pass: a pass of 64 keeps its activation rows in
  // L2 while each weight block streams past them, so it is compute-bound like
  // a longer one but faster per token (pp512 in one pass ran ~20% slower per
  // token than pp64 on 2 Zen 4 cores); the server's default budget is the same.
  static constexpr size_t kPassTokens = 64;
  void reset() { kv_.n_past = 0; }
  // Accumulates the phase times of the following evaluations (null: off).
  void set_profile(ForwardProfile* p) { ws_.profile = p; }
  // Forgets everything after the first n tokens (reuse of a common prefix).
  void truncate(int64_t n) { kv_.n_past = std::clamp<int64_t>(n, 0, kv_.n_past); }
  int64_t n_past() const { return kv_.n_past; }
  int64_t n_ctx() const { return kv_.n_ctx; }
  const Model& model() const { return *model_; }

 private:
  std::shared_ptr<const Model> model_;
  KvCache kv_;
  Workspace ws_;
  std::vector<BatchToken> batch_;
  std::vector<float> pass_logits_;
};

// Checks a batch's ids and positions against the model and caches.
Status validate_tokens(const Model& m, std::span<const int32_t> tokens);

}  // namespace hearth::model
