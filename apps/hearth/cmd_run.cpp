// hearth run MODEL.gguf [-p "prompt" | --tokens 1,2,3] [sampling options]
// With a prompt: prints the continuation as it is generated (exactly its
// bytes; a final newline only on a terminal). Without one: an interactive
// chat using the model's chat template (multi-line input between """,
// /bye, /clear, /set parameter NAME VALUE, /set system TEXT).
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "chat/chat_template.h"
#include "commands.h"
#include "generation.h"

namespace hearth::app {

namespace {

struct RunOpts {
  std::string model, tokens, prompt, system, template_name;
  int n_predict = -1;
  int threads = 0;
  int64_t ctx = 0;
  bool ignore_eos = false;
  std::vector<std::string> stops;
  sampling::SamplingParams sp;
};

std::string read_chat_input(bool* eof) {
  std::string line;
  if (!std::getline(std::cin, line)) {
    *eof = true;
    return {};
  }
  if (line.rfind("\"\"\"", 0) != 0) return line;
  std::string text = line.substr(3), more;
  while (std::getline(std::cin, more)) {
    size_t end = more.find("\"\"\"");
    if (end != std::string::npos) {
      text += "\n" + more.substr(0, end);
      return text;
    }
    text += "\n" + more;
  }
  *eof = true;
  return text;
}

int chat_loop(RunOpts& o, const std::shared_ptr<model::Model>& m, const tokenizer::Tokenizer& tok) {
  std::string source = m->file().get_string_or("tokenizer.chat_template", "");
  if (!o.template_name.empty() || source.empty()) {
    auto b = chat::builtin_template_source(o.template_name.empty() ? "chatml" : o.template_name);
    if (!b.ok()) return fail(b.status());
    source = b.value();
  }
  auto tmpl = chat::jinja::Template::parse(source);
  if (!tmpl.ok()) return fail(tmpl.status());
  model::Context ctx(m, o.ctx, o.threads);
  std::vector<int32_t> history;
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  auto reset = [&] {
    messages = nlohmann::ordered_json::array();
    if (!o.system.empty()) messages.push_back({{"role", "system"}, {"content", o.system}});
  };
  reset();
  const bool tty = isatty(STDIN_FILENO);
  for (;;) {
    if (tty) std::fprintf(stderr, ">>> ");
    bool eof = false;
    std::string input = read_chat_input(&eof);
    if (eof && input.empty()) break;
    if (input == "/bye") break;
    if (input == "/clear") {
      reset();
      std::fprintf(stderr, "Cleared session context\n");
      continue;
    }
    if (input.rfind("/set system ", 0) == 0) {
      o.system = input.substr(12);
      reset();
      continue;
    }
    if (input.rfind("/set parameter ", 0) == 0) {
      std::string rest = input.substr(15);
      size_t sp = rest.find(' ');
      std::string name = rest.substr(0, sp), value = sp == std::string::npos ? "" : rest.substr(sp + 1);
      Status s = name == "num_predict" ? Status() : name == "stop" ? Status() : sampling::set_option(o.sp, name, value);
      if (name == "num_predict") o.n_predict = std::atoi(value.c_str());
      if (name == "stop") o.stops.push_back(value);
      if (s.ok()) s = o.sp.validate(static_cast<int32_t>(m->hparams().n_vocab));
      std::fprintf(stderr, "%s\n", s.ok() ? ("Set parameter '" + name + "' to '" + value + "'").c_str() : s.message().c_str());
      continue;
    }
    if (input.empty()) continue;
    messages.push_back({{"role", "user"}, {"content", input}});
    chat::RenderRequest req;
    req.messages = messages;
    req.add_generation_prompt = true;
    const auto& v = tok.vocab();
    if (v.bos != tokenizer::kNoToken) req.bos_token = v.tokens[v.bos].text;
    if (v.eos != tokenizer::kNoToken) req.eos_token = v.tokens[v.eos].text;
    auto prompt_text = chat::render(*tmpl.value(), req);
    if (!prompt_text.ok()) {
      fail(prompt_text.status());
      messages.erase(messages.end() - 1);
      continue;
    }
    // The template writes BOS itself when it wants one; parse special tokens.
    std::vector<int32_t> prompt = tok.encode(prompt_text.value(), false, true);
    sampling::SamplerChain chain(o.sp, static_cast<int32_t>(m->hparams().n_vocab));
    std::string reply;
    auto r = generate(ctx, history, prompt, tok, chain, o.n_predict, o.stops, o.ignore_eos, [&](const std::string& t) {
      reply += t;
      std::fwrite(t.data(), 1, t.size(), stdout);
      std::fflush(stdout);
    });
    std::printf("\n\n");
    if (!r.status.ok()) {
      fail(r.status);
      messages.erase(messages.end() - 1);
      continue;
    }
    messages.push_back({{"role", "assistant"}, {"content", reply}});
  }
  return 0;
}

}  // namespace

void add_run(CLI::App& app) {
  auto o = std::make_shared<RunOpts>();
  auto* cmd = app.add_subcommand("run", "Generate a continuation, or chat when no prompt is given");
  cmd->add_option("model", o->model, "GGUF file")->required();
  cmd->add_option("-p,--prompt", o->prompt, "prompt text (BOS added as the model's metadata says)");
  cmd->add_option("--tokens", o->tokens, "prompt as token ids instead of text, e.g. 1,2,3");
  cmd->add_option("-n,--n-predict", o->n_predict, "tokens to generate (-1: until end of text or context)");
  cmd->add_option("--threads,-t", o->threads, "threads (default: physical cores)");
  cmd->add_option("--ctx", o->ctx, "context length (default: the model's)");
  cmd->add_flag("--ignore-eos", o->ignore_eos, "keep generating past end-of-generation tokens");
  cmd->add_option("--stop", o->stops, "stop string (repeatable)");
  cmd->add_option("--system", o->system, "system prompt (chat mode)");
  cmd->add_option("--chat-template", o->template_name, "built-in chat template to use instead of the model's");
  auto& sp = o->sp;
  cmd->add_option("--temp,--temperature", sp.temperature, "temperature (0 = greedy)");
  cmd->add_option("--top-k", sp.top_k, "top-k (0 disables)");
  cmd->add_option("--top-p", sp.top_p, "nucleus sampling threshold");
  cmd->add_option("--min-p", sp.min_p, "min-p threshold");
  cmd->add_option("--tfs-z", sp.tfs_z, "tail-free sampling z (1 disables)");
  cmd->add_option("--typical-p", sp.typical_p, "locally typical sampling p (1 disables)");
  cmd->add_option("--repeat-penalty", sp.repeat_penalty, "repetition penalty");
  cmd->add_option("--repeat-last-n", sp.repeat_last_n, "penalty window (0 off, -1 whole context)");
  cmd->add_option("--presence-penalty", sp.presence_penalty, "presence penalty");
  cmd->add_option("--frequency-penalty", sp.frequency_penalty, "frequency penalty");
  cmd->add_option("--mirostat", sp.mirostat, "Mirostat version (0 off, 1, 2)");
  cmd->add_option("--mirostat-tau", sp.mirostat_tau, "Mirostat target surprise");
  cmd->add_option("--mirostat-eta", sp.mirostat_eta, "Mirostat learning rate");
  cmd->add_option("--seed", sp.seed, "random seed (-1: random)");
  cmd->callback([o] {
    auto m = model::Model::load(o->model);
    if (!m.ok()) throw CLI::RuntimeError(fail(m.status()));
    auto tok = tokenizer::Tokenizer::load(m.value()->file());
    if (!tok.ok()) throw CLI::RuntimeError(fail(tok.status()));
    Status valid = o->sp.validate(static_cast<int32_t>(m.value()->hparams().n_vocab));
    if (!valid.ok()) throw CLI::RuntimeError(fail(valid));
    if (o->prompt.empty() && o->tokens.empty()) {
      int rc = chat_loop(*o, m.value(), *tok.value());
      if (rc != 0) throw CLI::RuntimeError(rc);
      return;
    }
    std::vector<int32_t> prompt;
    if (!o->tokens.empty()) {
      auto ids = parse_token_list(o->tokens);
      if (!ids.ok()) throw CLI::RuntimeError(fail(ids.status()));
      prompt = ids.value();
    } else {
      prompt = tok.value()->encode(o->prompt, true, false);
    }
    model::Context ctx(m.value(), o->ctx, o->threads);
    sampling::SamplerChain chain(o->sp, static_cast<int32_t>(m.value()->hparams().n_vocab));
    std::vector<int32_t> history;
    auto r = generate(ctx, history, prompt, *tok.value(), chain, o->n_predict, o->stops, o->ignore_eos,
                      [](const std::string& t) {
                        std::fwrite(t.data(), 1, t.size(), stdout);
                        std::fflush(stdout);
                      });
    if (!r.status.ok()) throw CLI::RuntimeError(fail(r.status));
    if (isatty(STDOUT_FILENO)) std::printf("\n");
  });
}

}  // namespace hearth::app
