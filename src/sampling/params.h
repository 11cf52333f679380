// Sampling settings, with the defaults Ollama documents, and the chain that
// applies them: logit bias -> penalties -> top_k -> tail-free -> typical ->
// top_p -> min_p -> temperature -> draw; Mirostat replaces the truncation
// steps when enabled. Temperature 0 is greedy over the biased logits (no
// penalties), so it reproduces the model's argmax continuation.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "hearth/status.h"
#include "sampling/candidates.h"
#include "sampling/json_grammar.h"

namespace hearth::sampling {

struct SamplingParams {
  float temperature = 0.8f;
  int32_t top_k = 40;
  float top_p = 0.9f;
  float min_p = 0.0f;
  float tfs_z = 1.0f;
  float typical_p = 1.0f;
  float repeat_penalty = 1.1f;
  int32_t repeat_last_n = 64;  // 0 disables, -1 = the whole context
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int32_t mirostat = 0;        // 0 off, 1 or 2
  float mirostat_tau = 5.0f;
  float mirostat_eta = 0.1f;
  int64_t seed = -1;           // -1: random
  std::unordered_map<int32_t, float> logit_bias;

  // Errors name the field: "top_p must be between 0 and 1".
  Status validate(int32_t n_vocab) const;
};

// Sets one parameter by its Ollama name from text ("temperature", "top_k",
// ...). kNotFound for names that are not sampling parameters (num_ctx, stop,
// num_predict belong to the caller); kInvalidArgument for a bad value.
Status set_option(SamplingParams& p, const std::string& name, const std::string& value);

class SamplerChain {
 public:
  SamplerChain(SamplingParams p, int32_t n_vocab);
  // logits: [n_vocab]; history: tokens so far (prompt + generated).
  int32_t sample(std::span<const float> logits, std::span<const int32_t> history);
  const SamplingParams& params() const { return p_; }
  // JSON mode: from now on only tokens the constraint allows are sampled
  // (the chain draws as usual; when its token is not allowed, it draws again
  // over the allowed tokens alone, so unconstrained steps cost nothing), and
  // each sampled token is committed to it.
  void constrain(std::unique_ptr<JsonConstraint> c) { json_ = std::move(c); }
  bool constrained() const { return json_ != nullptr; }

 private:
  int32_t draw(std::span<const float> logits, std::span<const int32_t> history);

  SamplingParams p_;
  int32_t n_vocab_;
  std::mt19937_64 rng_;
  float mu_;
  Candidates cand_;
  std::unique_ptr<JsonConstraint> json_;
  std::vector<float> masked_;
};

struct TokenLogprob {
  int32_t id;
  float logprob;
};

// log-softmax of the raw logits: the chosen token's log-probability and the
// top_n most likely alternatives (OpenAI `logprobs` / `top_logprobs`).
struct Logprobs {
  float logprob = 0;
  std::vector<TokenLogprob> top;
};
Logprobs compute_logprobs(std::span<const float> logits, int32_t token, int top_n);

}  // namespace hearth::sampling
