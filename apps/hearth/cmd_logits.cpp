// hearth logits MODEL.gguf --tokens 1,2,3 --out FILE [--one-by-one]
// Writes float32 little-endian logits, positions × vocab.
#include <cstdio>

#include "commands.h"
#include "model/model.h"

namespace hearth::app {

void add_logits(CLI::App& app) {
  struct Opts {
    std::string model, tokens, out;
    bool one_by_one = false;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("logits", "Write the logits at every position of a token sequence");
  cmd->add_option("model", o->model, "GGUF file")->required();
  cmd->add_option("--tokens", o->tokens, "token ids, e.g. 1,2,3")->required();
  cmd->add_option("--out", o->out, "output file (float32, positions × vocab)")->required();
  cmd->add_flag("--one-by-one", o->one_by_one, "evaluate one token at a time through the KV cache");
  cmd->add_option("--threads,-t", o->threads, "threads (default: physical cores)");
  cmd->callback([o] {
    auto ids = parse_token_list(o->tokens);
    if (!ids.ok()) throw CLI::RuntimeError(fail(ids.status()));
    auto m = model::Model::load(o->model);
    if (!m.ok()) throw CLI::RuntimeError(fail(m.status()));
    model::Context ctx(m.value(), 0, o->threads);
    std::vector<float> all, step;
    if (o->one_by_one) {
      for (int32_t id : ids.value()) {
        Status s = ctx.eval(std::span<const int32_t>(&id, 1), false, &step);
        if (!s.ok()) throw CLI::RuntimeError(fail(s));
        all.insert(all.end(), step.begin(), step.end());
      }
    } else {
      Status s = ctx.eval(ids.value(), true, &all);
      if (!s.ok()) throw CLI::RuntimeError(fail(s));
    }
    FILE* f = std::fopen(o->out.c_str(), "wb");
    if (!f || std::fwrite(all.data(), sizeof(float), all.size(), f) != all.size() || std::fclose(f) != 0)
      throw CLI::RuntimeError(fail(io_error(o->out + ": write failed")));
  });
}

}  // namespace hearth::app
