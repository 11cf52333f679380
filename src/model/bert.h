// The `bert` architecture: a bidirectional encoder with learned position and
// token-type embeddings, post-LayerNorm blocks and a GELU feed-forward, used
// for embeddings (mean or CLS pooling, from `bert.pooling_type`).
#pragma once

#include "core/anon_memory.h"

#include <memory>
#include <span>
#include <vector>

#include "gguf/file.h"
#include "hearth/status.h"
#include "model/model.h"

namespace hearth::model {

enum class Pooling { kNone = 0, kMean = 1, kCls = 2 };

class BertModel {
 public:
  static Result<std::shared_ptr<BertModel>> from_file(std::shared_ptr<gguf::File> file);

  // The pooled embedding [n_embd] of one token sequence (already holding
  // [CLS] ... [SEP]); not normalized. Thread-compatible: one Workspace per thread.
  Result<std::vector<float>> embed(Workspace& ws, std::span<const int32_t> tokens, Pooling pooling) const;

  const gguf::File& file() const { return *file_; }
  int64_t n_embd() const { return n_embd_; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_vocab() const { return n_vocab_; }
  Pooling default_pooling() const { return pooling_; }

 private:
  struct Norm {
    Weight w, b;
  };
  struct Layer {
    Weight wq, bq, wk, bk, wv, bv, wo, bo, w_up, b_up, w_down, b_down;
    Norm attn_norm, out_norm;
  };
  std::shared_ptr<gguf::File> file_;
  core::AnonMemory repacked_;  // interleaved weights and copied norms (model/repack.h)
  int64_t n_embd_ = 0, n_head_ = 0, n_ff_ = 0, n_ctx_ = 0, n_vocab_ = 0;
  float eps_ = 1e-12f;
  Pooling pooling_ = Pooling::kMean;
  Weight tok_embd_, type_embd_, pos_embd_;
  Norm embd_norm_;
  std::vector<Layer> layers_;
};

}  // namespace hearth::model
