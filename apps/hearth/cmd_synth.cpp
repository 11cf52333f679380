// hearth synth --arch llama --dim D --layers L --heads H --kv-heads K --ffn F --vocab-from FILE.gguf OUT.gguf
#include <cstdio>

#include "commands.h"
#include "model/synth.h"

namespace hearth::app {

void add_synth(CLI::App& app) {
  struct Opts {
    model::SynthOptions s;
    std::string out, type = "F16";
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("synth", "Write a random-weight model of any shape (for benchmarks)");
  cmd->add_option("--arch", o->s.arch, "llama, qwen2 or bert (an encoder for embeddings; --kv-heads ignored)");
  cmd->add_option("--dim", o->s.dim, "embedding size");
  cmd->add_option("--layers", o->s.layers, "blocks");
  cmd->add_option("--heads", o->s.heads, "attention heads");
  cmd->add_option("--kv-heads", o->s.kv_heads, "key/value heads");
  cmd->add_option("--ffn", o->s.ffn, "feed-forward size");
  cmd->add_option("--ctx", o->s.ctx, "context length");
  cmd->add_option("--vocab-from", o->s.vocab_from, "GGUF to copy the tokenizer from");
  cmd->add_option("--vocab", o->s.vocab, "vocabulary size (without --vocab-from)");
  cmd->add_option("--type", o->type, "weight type (F16, F32, BF16, or a quantized type)");
  cmd->add_option("--seed", o->s.seed, "random seed");
  cmd->add_option("output", o->out, "output GGUF")->required();
  cmd->callback([o] {
    auto t = dtype_from_name(o->type);
    if (!t || *t == DType::kQ8_1 || *t == DType::kQ8_K) throw CLI::RuntimeError(fail(invalid_argument("unknown --type " + o->type)));
    o->s.type = *t;
    Status s = model::synth_model(o->s, o->out);
    if (!s.ok()) throw CLI::RuntimeError(fail(s));
    std::fprintf(stderr, "wrote %s\n", o->out.c_str());
  });
}

}  // namespace hearth::app
