// hearth run MODEL.gguf (--tokens 1,2,3 | -p "prompt") [-n N] [--temp T] [--seed S] [--threads N]
// Prints the continuation as it is generated.
#include <chrono>
#include <cstdio>

#include "commands.h"
#include "model/model.h"
#include "sampling/basic.h"

namespace hearth::app {

void add_run(CLI::App& app) {
  struct Opts {
    std::string model, tokens, prompt;
    int n_predict = 64;
    float temp = 0.8f;
    uint64_t seed = 0;
    bool seed_set = false;
    int threads = 0;
    int64_t ctx = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("run", "Generate a continuation");
  cmd->add_option("model", o->model, "GGUF file")->required();
  cmd->add_option("--tokens", o->tokens, "prompt as token ids, e.g. 1,2,3");
  cmd->add_option("-p,--prompt", o->prompt, "prompt text");
  cmd->add_option("-n,--n-predict", o->n_predict, "tokens to generate")->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--temp", o->temp, "temperature (0 = greedy)")->check(CLI::Range(0.0f, 100.0f));
  auto* seed_opt = cmd->add_option("--seed", o->seed, "random seed");
  cmd->add_option("--threads,-t", o->threads, "threads (default: physical cores)");
  cmd->add_option("--ctx", o->ctx, "context length (default: the model's)");
  cmd->callback([o, seed_opt] {
    if (o->tokens.empty())
      throw CLI::RuntimeError(fail(unsupported("text prompts need the tokenizer; pass --tokens for now")));
    auto ids = parse_token_list(o->tokens);
    if (!ids.ok()) throw CLI::RuntimeError(fail(ids.status()));
    auto m = model::Model::load(o->model);
    if (!m.ok()) throw CLI::RuntimeError(fail(m.status()));
    uint64_t seed = seed_opt->count() ? o->seed : static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    model::Context ctx(m.value(), o->ctx, o->threads);
    sampling::TemperatureSampler sampler(o->temp, seed);
    std::vector<float> logits;
    std::vector<int32_t> batch = ids.value();
    const int64_t n_vocab = m.value()->hparams().n_vocab;
    for (int i = 0; i < o->n_predict; ++i) {
      Status s = ctx.eval(batch, false, &logits);
      if (!s.ok()) throw CLI::RuntimeError(fail(s));
      int32_t next = sampler.sample(logits.data(), n_vocab);
      std::printf("%s%d", i ? " " : "", next);
      std::fflush(stdout);
      batch.assign(1, next);
    }
    std::printf("\n");
  });
}

}  // namespace hearth::app
