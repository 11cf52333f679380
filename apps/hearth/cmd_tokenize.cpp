// hearth tokenize MODEL.gguf "text" [--file F] [--ids] [--add-special] [--parse-special]
// hearth detokenize MODEL.gguf 1,2,3 [--special]
#include <cstdio>
#include <fstream>
#include <iterator>

#include "commands.h"
#include "gguf/file.h"
#include "tokenizer/tokenizer.h"

namespace hearth::app {

namespace {

std::shared_ptr<const tokenizer::Tokenizer> load_tokenizer(const std::string& path) {
  auto f = gguf::File::open(path);
  if (!f.ok()) throw CLI::RuntimeError(fail(f.status()));
  auto t = tokenizer::Tokenizer::load(f.value());
  if (!t.ok()) throw CLI::RuntimeError(fail(t.status()));
  return t.value();
}

}  // namespace

void add_tokenize(CLI::App& app) {
  struct Opts {
    std::string model, text, file;
    bool ids_only = false, add_special = false, parse_special = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("tokenize", "Show the token ids (and pieces) of a text");
  cmd->add_option("model", o->model, "GGUF file (a model or a vocab-only file)")->required();
  cmd->add_option("text", o->text, "text to tokenize");
  cmd->add_option("--file", o->file, "read the text from a file (bytes as they are)");
  cmd->add_flag("--ids", o->ids_only, "print only the ids, space-separated on one line");
  cmd->add_flag("--add-special", o->add_special, "add BOS/EOS as the model's metadata says");
  cmd->add_flag("--parse-special", o->parse_special, "turn special-token text (e.g. <|im_start|>) into those tokens");
  cmd->callback([o] {
    std::string text = o->text;
    if (!o->file.empty()) {
      std::ifstream in(o->file, std::ios::binary);
      if (!in) throw CLI::RuntimeError(fail(io_error(o->file + ": cannot open")));
      text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    auto tok = load_tokenizer(o->model);
    auto ids = tok->encode(text, o->add_special, o->parse_special);
    if (o->ids_only) {
      for (size_t i = 0; i < ids.size(); ++i) std::printf("%s%d", i ? " " : "", ids[i]);
      std::printf("\n");
      return;
    }
    for (auto id : ids) {
      std::string p = tok->piece(id, true);
      std::string shown;
      for (unsigned char c : p) {
        if (c == '\n') shown += "\\n";
        else if (c == '\t') shown += "\\t";
        else if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\x%02x", c);
          shown += b;
        } else shown += static_cast<char>(c);
      }
      std::printf("%6d -> '%s'\n", id, shown.c_str());
    }
  });
}

void add_detokenize(CLI::App& app) {
  struct Opts {
    std::string model, ids;
    bool special = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("detokenize", "Turn token ids back into text");
  cmd->add_option("model", o->model, "GGUF file")->required();
  cmd->add_option("ids", o->ids, "token ids, e.g. 1,2,3")->required();
  cmd->add_flag("--special", o->special, "render control tokens as their text");
  cmd->callback([o] {
    auto ids = parse_token_list(o->ids);
    if (!ids.ok()) throw CLI::RuntimeError(fail(ids.status()));
    auto tok = load_tokenizer(o->model);
    for (size_t i = 0; i < ids->size(); ++i)
      if (!tok->vocab().valid((*ids)[i]))
        throw CLI::RuntimeError(fail(invalid_argument("token id " + std::to_string((*ids)[i]) + " is outside the vocabulary")));
    std::string text = tok->decode(ids.value(), o->special);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::printf("\n");
  });
}

}  // namespace hearth::app
