// hearth template render (--template FILE.jinja | --model MODEL.gguf | --builtin NAME)
//   --messages FILE.json [--tools FILE.json] [--add-generation-prompt] [--bos S] [--eos S]
// Prints the rendered text exactly (no newline added), or exits non-zero
// with the template's error.
#include <cstdio>
#include <fstream>
#include <iterator>

#include "chat/chat_template.h"
#include "commands.h"
#include "core/json_depth.h"
#include "gguf/file.h"
#include "tokenizer/vocab.h"

namespace hearth::app {

namespace {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error(path + ": cannot open");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Result<nlohmann::ordered_json> read_json(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(std::string text, read_file(path));
  auto j = core::parse_json_bounded<nlohmann::ordered_json>(text);
  if (j.is_discarded()) return invalid_argument(path + ": not valid JSON");
  return j;
}

}  // namespace

void add_template(CLI::App& app) {
  struct Opts {
    std::string tmpl, model, builtin, messages, tools, bos, eos;
    bool agp = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("template", "Chat templates");
  auto* r = cmd->add_subcommand("render", "Render a conversation with a chat template");
  cmd->require_subcommand(1);
  r->add_option("--template", o->tmpl, "Jinja template file");
  r->add_option("--model", o->model, "GGUF whose tokenizer.chat_template to use");
  r->add_option("--builtin", o->builtin, "a built-in template: chatml, llama-2, llama-3, mistral, gemma, phi-3, zephyr, completion");
  r->add_option("--messages", o->messages, "JSON file: an array of messages (or an object with messages and tools)")->required();
  r->add_option("--tools", o->tools, "JSON file: an array of tools");
  r->add_flag("--add-generation-prompt", o->agp, "end with the assistant's turn header");
  auto* bos = r->add_option("--bos", o->bos, "bos_token text (default: the model's)");
  auto* eos = r->add_option("--eos", o->eos, "eos_token text (default: the model's)");
  r->callback([o, bos, eos] {
    if ((!o->tmpl.empty()) + (!o->model.empty()) + (!o->builtin.empty()) != 1)
      throw CLI::RuntimeError(fail(invalid_argument("give exactly one of --template, --model, --builtin")));
    std::string source;
    chat::RenderRequest req;
    if (!o->tmpl.empty()) {
      auto s = read_file(o->tmpl);
      if (!s.ok()) throw CLI::RuntimeError(fail(s.status()));
      source = s.value();
    } else if (!o->builtin.empty()) {
      auto s = chat::builtin_template_source(o->builtin);
      if (!s.ok()) throw CLI::RuntimeError(fail(s.status()));
      source = s.value();
    } else {
      auto f = gguf::File::open(o->model);
      if (!f.ok()) throw CLI::RuntimeError(fail(f.status()));
      auto t = f->get_string("tokenizer.chat_template");
      if (!t.ok())
        throw CLI::RuntimeError(fail(not_found(o->model + " has no tokenizer.chat_template; use --builtin NAME")));
      source = t.value();
      if (auto v = tokenizer::Vocab::load(f.value()); v.ok()) {
        if (v->bos != tokenizer::kNoToken) req.bos_token = v->tokens[v->bos].text;
        if (v->eos != tokenizer::kNoToken) req.eos_token = v->tokens[v->eos].text;
      }
    }
    if (bos->count()) req.bos_token = o->bos;
    if (eos->count()) req.eos_token = o->eos;
    auto msgs = read_json(o->messages);
    if (!msgs.ok()) throw CLI::RuntimeError(fail(msgs.status()));
    if (msgs->is_object()) {
      if (msgs->contains("tools")) req.tools = (*msgs)["tools"];
      req.messages = msgs->value("messages", nlohmann::ordered_json::array());
    } else {
      req.messages = msgs.value();
    }
    if (!o->tools.empty()) {
      auto t = read_json(o->tools);
      if (!t.ok()) throw CLI::RuntimeError(fail(t.status()));
      req.tools = t.value();
    }
    req.add_generation_prompt = o->agp;
    auto tmpl = chat::jinja::Template::parse(source);
    if (!tmpl.ok()) throw CLI::RuntimeError(fail(tmpl.status()));
    auto out = chat::render(*tmpl.value(), req);
    if (!out.ok()) throw CLI::RuntimeError(fail(out.status()));
    std::fwrite(out->data(), 1, out->size(), stdout);
  });
}

}  // namespace hearth::app
