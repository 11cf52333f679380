// hearth quantize IN.gguf OUT.gguf TYPE [--pure] [--threads N]
#include <cstdio>

#include "commands.h"
#include "model/quantize.h"

namespace hearth::app {

void add_quantize(CLI::App& app) {
  struct Opts {
    std::string in, out;
    model::QuantizeOptions q;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("quantize", "Re-quantize a GGUF model (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K_M, Q4_K_M, Q5_K_M, Q6_K, F16, …)");
  cmd->add_option("input", o->in, "input GGUF")->required();
  cmd->add_option("output", o->out, "output GGUF")->required();
  cmd->add_option("type", o->q.type, "target type or mix")->required();
  cmd->add_flag("--pure", o->q.pure, "every 2-D weight in the base type (no K-quant mix, no Q6_K output)");
  cmd->add_option("--threads,-t", o->q.n_threads, "threads (default: physical cores)");
  cmd->callback([o] {
    Status s = model::quantize_file(o->in, o->out, o->q);
    if (!s.ok()) throw CLI::RuntimeError(fail(s));
    std::fprintf(stderr, "wrote %s\n", o->out.c_str());
  });
}

}  // namespace hearth::app
