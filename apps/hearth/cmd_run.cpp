// hearth run MODEL.gguf (-p "prompt" | --tokens 1,2,3) [-n N] [--temp T] [--seed S] [--threads N]
// Prints the continuation as it is generated (exactly its bytes; a final
// newline only when stdout is a terminal).
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "commands.h"
#include "model/model.h"
#include "sampling/basic.h"
#include "tokenizer/tokenizer.h"

namespace hearth::app {

void add_run(CLI::App& app) {
  struct Opts {
    std::string model, tokens, prompt;
    int n_predict = 128;
    float temp = 0.8f;
    uint64_t seed = 0;
    int threads = 0;
    int64_t ctx = 0;
    bool ignore_eos = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("run", "Generate a continuation of a prompt");
  cmd->add_option("model", o->model, "GGUF file")->required();
  cmd->add_option("-p,--prompt", o->prompt, "prompt text (BOS added as the model's metadata says)");
  cmd->add_option("--tokens", o->tokens, "prompt as token ids instead of text, e.g. 1,2,3");
  cmd->add_option("-n,--n-predict", o->n_predict, "tokens to generate")->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--temp", o->temp, "temperature (0 = greedy)")->check(CLI::Range(0.0f, 100.0f));
  auto* seed_opt = cmd->add_option("--seed", o->seed, "random seed");
  cmd->add_option("--threads,-t", o->threads, "threads (default: physical cores)");
  cmd->add_option("--ctx", o->ctx, "context length (default: the model's)");
  cmd->add_flag("--ignore-eos", o->ignore_eos, "keep generating past end-of-generation tokens");
  cmd->callback([o, seed_opt] {
    auto m = model::Model::load(o->model);
    if (!m.ok()) throw CLI::RuntimeError(fail(m.status()));
    auto tok = tokenizer::Tokenizer::load(m.value()->file());
    if (!tok.ok()) throw CLI::RuntimeError(fail(tok.status()));
    std::vector<int32_t> batch;
    if (!o->tokens.empty()) {
      auto ids = parse_token_list(o->tokens);
      if (!ids.ok()) throw CLI::RuntimeError(fail(ids.status()));
      batch = ids.value();
    } else {
      batch = tok.value()->encode(o->prompt, true, false);
      if (batch.empty()) throw CLI::RuntimeError(fail(invalid_argument("the prompt is empty")));
    }
    uint64_t seed = seed_opt->count() ? o->seed
                                      : static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    model::Context ctx(m.value(), o->ctx, o->threads);
    sampling::TemperatureSampler sampler(o->temp, seed);
    tokenizer::IncrementalDetokenizer detok(*tok.value(), false);
    std::vector<float> logits;
    const int64_t n_vocab = m.value()->hparams().n_vocab;
    for (int i = 0; i < o->n_predict; ++i) {
      Status s = ctx.eval(batch, false, &logits);
      if (!s.ok()) throw CLI::RuntimeError(fail(s));
      int32_t next = sampler.sample(logits.data(), n_vocab);
      if (!o->ignore_eos && tok.value()->is_eog(next)) break;
      std::string text = detok.push(next);
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
      batch.assign(1, next);
    }
    std::string rest = detok.flush();
    std::fwrite(rest.data(), 1, rest.size(), stdout);
    if (isatty(STDOUT_FILENO)) std::printf("\n");
  });
}

}  // namespace hearth::app
