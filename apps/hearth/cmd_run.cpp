// hearth run MODEL.gguf [-p "prompt" | --tokens 1,2,3] [sampling options]
// With a prompt: prints the continuation as it is generated (exactly its
// bytes; a final newline only on a terminal). Without one: an interactive
// chat using the model's chat template (multi-line input between """,
// /bye, /clear, /set parameter NAME VALUE, /set system TEXT, /set think [LEVEL], /set nothink).
#include <fstream>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include <filesystem>

#include "chat/chat_template.h"
#include "chat/thinking.h"
#include "sampling/json_schema.h"
#include "server/http_client.h"
#include "store/go_template.h"
#include "store/store.h"
#include "commands.h"
#include "generation.h"

namespace hearth::app {

namespace {

struct RunOpts {
  std::string model, tokens, prompt, system, template_name, go_template;
  std::vector<std::string> adapters;
  std::set<std::string> cli_set;  // sampling options given on the command line
  bool n_predict_set = false;
  bool local = false;
  int n_predict = -1;
  int threads = 0;
  int64_t ctx = 0;
  std::string kv_type = "f16";
  tensor::KvType kv = tensor::KvType::kF16;
  bool kv_type_set = false;
  bool ignore_eos = false;
  std::string format;  // "json", a JSON schema or a file holding one: JSON mode (sampling/json_grammar.h)
  nlohmann::json format_wire;                             // as sent to a server ("json" or the schema)
  std::shared_ptr<const sampling::JsonSchema> schema;     // null: free text
  std::vector<std::string> stops;
  sampling::SamplingParams sp;
  std::string think;          // --think[=true|false|low|medium|high]; empty: the model's default
  bool hide_thinking = false;  // --hidethinking
};

// --think as the request's `think`: unset, on/off, and a level (which is on).
std::optional<bool> think_of(const RunOpts& o) {
  if (o.think.empty()) return std::nullopt;
  return o.think != "false";
}
std::string think_level_of(const RunOpts& o) { return o.think == "true" || o.think == "false" ? "" : o.think; }
nlohmann::json think_json(const RunOpts& o) {
  return o.think == "true" || o.think == "false" ? nlohmann::json(o.think == "true") : nlohmann::json(o.think);
}

// A thinking model's reasoning shown as `ollama run` shows it: "Thinking...",
// the reasoning, then "...done thinking." before the answer (--hidethinking:
// the answer alone).
struct ThinkingDisplay {
  bool hide = false, open = false;
  void write(const std::string& t) {
    std::fwrite(t.data(), 1, t.size(), stdout);
    std::fflush(stdout);
  }
  void thinking(const std::string& t) {
    if (hide || t.empty()) return;
    if (!open) write("Thinking...\n");
    open = true;
    write(t);
  }
  void content(const std::string& t) {
    if (t.empty()) return;
    close();
    write(t);
  }
  void close() {
    if (open) write("\n...done thinking.\n\n");
    open = false;
  }
};

// --format: "json" (any object), an inline JSON schema, or a file holding
// one (as Ollama's format "json" or a schema).
Status parse_format(RunOpts& o) {
  if (o.format.empty()) return Status();
  if (o.format == "json") {
    o.format_wire = "json";
    o.schema = sampling::JsonSchema::any_object();
    return Status();
  }
  std::string text = o.format;
  if (text.find('{') == std::string::npos) {  // a path
    std::ifstream in(o.format, std::ios::binary);
    if (!in) return invalid_argument("--format: '" + o.format + "' is neither json, a JSON schema nor a readable file");
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return invalid_argument("--format: the schema is not a JSON object");
  auto schema = sampling::JsonSchema::compile(j, "--format");
  if (!schema.ok()) return schema.status();
  o.format_wire = std::move(j);
  o.schema = schema.value();
  return Status();
}

// JSON mode for the local model (the server does the same per request);
// `answer_so_far`: text of the answer generated before the constraint began.
void constrain_json(sampling::SamplerChain& chain, const tokenizer::Tokenizer& tok,
                    std::shared_ptr<const sampling::JsonSchema> schema, std::string_view answer_so_far = "") {
  if (!schema) return;
  const tokenizer::Tokenizer* t = &tok;
  auto c = std::make_unique<sampling::JsonConstraint>(tok.pieces(), [t](int32_t id) { return t->is_eog(id); }, std::move(schema));
  c->accept_text(answer_so_far);
  chain.constrain(std::move(c));
}

// A local reply as it is generated: split into reasoning and answer when
// the model thinks, shown, collected; JSON mode constrains the answer (from
// the end of the reasoning, as the server does).
struct LocalReply {
  sampling::SamplerChain& chain;
  const tokenizer::Tokenizer& tok;
  std::shared_ptr<const sampling::JsonSchema> schema;
  std::optional<chat::ThinkingParser> parser;
  ThinkingDisplay show;
  std::string content, reasoning;

  LocalReply(sampling::SamplerChain& c, const tokenizer::Tokenizer& t, std::shared_ptr<const sampling::JsonSchema> s,
             std::optional<chat::ThinkingParser> p, bool hide)
      : chain(c), tok(t), schema(std::move(s)), parser(std::move(p)), show{hide} {
    if (!parser || !parser->inside()) constrain_json(chain, tok, schema);
  }
  void add(const chat::ThinkingParser::Split& sp) {
    reasoning += sp.thinking;
    content += sp.content;
    show.thinking(sp.thinking);
    show.content(sp.content);
  }
  void push(const std::string& t) {
    if (!parser) return add({"", t});
    const bool was_done = parser->done();
    chat::ThinkingParser::Split sp = parser->push(t);
    if (!was_done && parser->done() && !chain.constrained()) constrain_json(chain, tok, schema, sp.content);
    add(sp);
  }
  void finish() {
    if (parser) add(parser->finish());
    show.close();
  }
};

// /set think [low|medium|high], /set nothink (as in `ollama run`): true
// when `input` was one of them.
bool set_think_command(const std::string& input, RunOpts& o, bool can_think) {
  std::string value;
  if (input == "/set think") value = "true";
  else if (input == "/set nothink") value = "false";
  else if (input == "/set think low" || input == "/set think medium" || input == "/set think high") value = input.substr(11);
  else return false;
  if (value != "false" && !can_think) {
    std::fprintf(stderr, "this model does not support thinking\n");
    return true;
  }
  o.think = value;
  std::fprintf(stderr, "Set '%s' mode.\n", value == "false" ? "nothink" : "think");
  return true;
}

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
  // Thinking, as the server decides it: the template in use has thinking tags.
  const std::optional<chat::ThinkingTags> tags = chat::infer_thinking_tags(o.go_template.empty() ? source : o.go_template);
  if (think_of(o).value_or(false) && !tags)
    return fail(invalid_argument("this model does not support thinking (its template has no thinking tags)"));
  model::Context ctx(m, o.ctx, o.threads, o.kv);
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
    if (set_think_command(input, o, tags.has_value())) continue;
    const std::optional<bool> think = think_of(o);  // (/set think may change it)
    const bool thinking_on = think.value_or(tags.has_value());
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
    if (tags || think) req.enable_thinking = thinking_on;
    req.reasoning_effort = think_level_of(o);
    Result<std::string> prompt_text = std::string();
    if (!o.go_template.empty()) {  // a Modelfile TEMPLATE (Go syntax) formats the chat
      auto gt = store::GoTemplate::parse(o.go_template);
      nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
      for (const auto& mm : messages)
        if (mm["role"] != "system") msgs.push_back({{"Role", mm["role"]}, {"Content", mm["content"]}});
      prompt_text = gt.ok() ? gt.value()->render({{"System", o.system}, {"Prompt", input}, {"Response", ""}, {"Messages", msgs},
                                                  {"Think", thinking_on}, {"ThinkLevel", think_level_of(o)},
                                                  {"IsThinkSet", think.has_value()}})
                            : Result<std::string>(gt.status());
    } else {
      prompt_text = chat::render(*tmpl.value(), req);
    }
    if (!prompt_text.ok()) {
      fail(prompt_text.status());
      messages.erase(messages.end() - 1);
      continue;
    }
    // The template writes BOS itself when it wants one; parse special tokens.
    std::vector<int32_t> prompt = tok.encode(prompt_text.value(), false, true);
    if (v.add_bos && v.bos != tokenizer::kNoToken && (prompt.empty() || prompt[0] != v.bos)) prompt.insert(prompt.begin(), v.bos);
    sampling::SamplerChain chain(o.sp, static_cast<int32_t>(m->hparams().n_vocab));
    std::optional<chat::ThinkingParser> parser;
    if (thinking_on && tags) parser.emplace(*tags, chat::prompt_opens_thinking(prompt_text.value(), *tags));
    LocalReply out(chain, tok, o.schema, std::move(parser), o.hide_thinking);
    auto r = generate(ctx, history, prompt, tok, chain, o.n_predict, o.stops, o.ignore_eos,
                      [&](const std::string& t) { out.push(t); });
    out.finish();
    const std::string& reply = out.content;
    const std::string& reasoning = out.reasoning;
    std::printf("\n\n");
    if (!r.status.ok()) {
      fail(r.status);
      messages.erase(messages.end() - 1);
      continue;
    }
    messages.push_back({{"role", "assistant"}, {"content", reply}});
    if (!reasoning.empty()) messages.back()["reasoning_content"] = reasoning;
  }
  return 0;
}

// Options the user set on the command line, by their Ollama names.
nlohmann::json cli_options(const RunOpts& o) {
  nlohmann::json opt = nlohmann::json::object();
  const auto& sp = o.sp;
  const std::map<std::string, nlohmann::json> values = {
      {"temperature", sp.temperature}, {"top_k", sp.top_k}, {"top_p", sp.top_p}, {"min_p", sp.min_p}, {"tfs_z", sp.tfs_z},
      {"typical_p", sp.typical_p}, {"repeat_penalty", sp.repeat_penalty}, {"repeat_last_n", sp.repeat_last_n},
      {"presence_penalty", sp.presence_penalty}, {"frequency_penalty", sp.frequency_penalty}, {"mirostat", sp.mirostat},
      {"mirostat_tau", sp.mirostat_tau}, {"mirostat_eta", sp.mirostat_eta}, {"seed", sp.seed}};
  for (const auto& name : o.cli_set) opt[name] = values.at(name);
  if (o.n_predict_set) opt["num_predict"] = o.n_predict;
  if (o.ctx > 0) opt["num_ctx"] = o.ctx;
  if (!o.stops.empty()) opt["stop"] = o.stops;
  return opt;
}

// Streams one NDJSON request; prints the text fields as they come.
Status stream_from_server(const server::Url& url, const std::string& path, const nlohmann::json& body, const char* field,
                          std::string* collected, ThinkingDisplay& show) {
  std::string buf;
  Status err;
  auto r = server::http_request(url, "POST", path, body.dump(), [&](const char* d, size_t n) {
    buf.append(d, n);
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      auto j = nlohmann::json::parse(buf.substr(0, nl), nullptr, false);
      buf.erase(0, nl + 1);
      if (j.is_discarded()) continue;
      if (j.contains("error")) err = invalid_argument(j["error"].get<std::string>());
      const bool chat = std::string(field) == "message";
      const nlohmann::json& part = chat && j.contains("message") && j["message"].is_object() ? j["message"] : j;
      std::string text = part.value(chat ? "content" : "response", "");
      show.thinking(part.value("thinking", ""));
      show.content(text);
      if (collected) *collected += text;
    }
    return true;
  });
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    return invalid_argument(!j.is_discarded() && j.contains("error") ? j["error"].get<std::string>() : r->body);
  }
  return err;
}

// True when a server is running and knows the model (then *rc is the exit code).
bool run_via_server(RunOpts& o, int* rc) {
  server::Url url = server::local_server();
  auto show = server::http_request(url, "POST", "/api/show", nlohmann::json{{"model", o.model}}.dump());
  if (!show.ok() || show->status != 200) return false;
  nlohmann::json options = cli_options(o);
  if (!o.prompt.empty()) {
    nlohmann::json body = {{"model", o.model}, {"prompt", o.prompt}, {"options", options}};
    if (!o.system.empty()) body["system"] = o.system;
    if (o.schema) body["format"] = o.format_wire;
    if (!o.think.empty()) body["think"] = think_json(o);
    ThinkingDisplay show{o.hide_thinking};
    Status s = stream_from_server(url, "/api/generate", body, "response", nullptr, show);
    show.close();
    if (!s.ok()) *rc = fail(s);
    if (isatty(STDOUT_FILENO)) std::printf("\n");
    return true;
  }
  nlohmann::json messages = nlohmann::json::array();
  if (!o.system.empty()) messages.push_back({{"role", "system"}, {"content", o.system}});
  const bool tty = isatty(STDIN_FILENO);
  for (;;) {
    if (tty) std::fprintf(stderr, ">>> ");
    bool eof = false;
    std::string input = read_chat_input(&eof);
    if ((eof && input.empty()) || input == "/bye") break;
    if (input == "/clear") {
      messages = nlohmann::json::array();
      continue;
    }
    if (set_think_command(input, o, true)) continue;  // (the server says when the model cannot)
    if (input.empty()) continue;
    messages.push_back({{"role", "user"}, {"content", input}});
    std::string reply;
    nlohmann::json body = {{"model", o.model}, {"messages", messages}, {"options", options}};
    if (o.schema) body["format"] = o.format_wire;
    if (!o.think.empty()) body["think"] = think_json(o);
    ThinkingDisplay show{o.hide_thinking};
    Status s = stream_from_server(url, "/api/chat", body, "message", &reply, show);
    show.close();
    std::printf("\n\n");
    if (!s.ok()) {
      fail(s);
      messages.erase(messages.end() - 1);
      continue;
    }
    messages.push_back({{"role", "assistant"}, {"content", reply}});
  }
  return true;
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
  CLI::Option* kv_opt =
      cmd->add_option("--kv-cache-type", o->kv_type, "KV cache type: f16 or q8_0 (half the memory; runs locally)")
          ->check(CLI::IsMember({"f16", "q8_0"}));
  cmd->add_flag("--ignore-eos", o->ignore_eos, "keep generating past end-of-generation tokens");
  cmd->add_option("--format", o->format,
                  "json (one JSON object, Ollama's format \"json\"), or a JSON schema (inline or a file) the output must match");
  cmd->add_option("--stop", o->stops, "stop string (repeatable)");
  cmd->add_option("--system", o->system, "system prompt (chat mode)");
  cmd->add_option("--think", o->think, "thinking models: --think (on), --think=false (off) or a level (low, medium, high)")
      ->expected(0, 1)
      ->default_str("true")
      ->check(CLI::IsMember({"true", "false", "low", "medium", "high"}));
  cmd->add_flag("--hidethinking", o->hide_thinking, "thinking models: show the answer without the reasoning");
  cmd->add_option("--chat-template", o->template_name, "built-in chat template to use instead of the model's");
  cmd->add_flag("--local", o->local, "never use a running server (load the model in this process)");
  auto& sp = o->sp;
  std::vector<std::pair<std::string, CLI::Option*>> sampling_opts = {
      {"temperature", cmd->add_option("--temp,--temperature", sp.temperature, "temperature (0 = greedy)")},
      {"top_k", cmd->add_option("--top-k", sp.top_k, "top-k (0 disables)")},
      {"top_p", cmd->add_option("--top-p", sp.top_p, "nucleus sampling threshold")},
      {"min_p", cmd->add_option("--min-p", sp.min_p, "min-p threshold")},
      {"tfs_z", cmd->add_option("--tfs-z", sp.tfs_z, "tail-free sampling z (1 disables)")},
      {"typical_p", cmd->add_option("--typical-p", sp.typical_p, "locally typical sampling p (1 disables)")},
      {"repeat_penalty", cmd->add_option("--repeat-penalty", sp.repeat_penalty, "repetition penalty")},
      {"repeat_last_n", cmd->add_option("--repeat-last-n", sp.repeat_last_n, "penalty window (0 off, -1 whole context)")},
      {"presence_penalty", cmd->add_option("--presence-penalty", sp.presence_penalty, "presence penalty")},
      {"frequency_penalty", cmd->add_option("--frequency-penalty", sp.frequency_penalty, "frequency penalty")},
      {"mirostat", cmd->add_option("--mirostat", sp.mirostat, "Mirostat version (0 off, 1, 2)")},
      {"mirostat_tau", cmd->add_option("--mirostat-tau", sp.mirostat_tau, "Mirostat target surprise")},
      {"mirostat_eta", cmd->add_option("--mirostat-eta", sp.mirostat_eta, "Mirostat learning rate")},
      {"seed", cmd->add_option("--seed", sp.seed, "random seed (-1: random)")},
  };
  CLI::Option* n_opt = cmd->get_option("--n-predict");
  cmd->callback([o, sampling_opts, n_opt, kv_opt] {
    for (const auto& [name, opt] : sampling_opts)
      if (opt->count()) o->cli_set.insert(name);
    o->n_predict_set = n_opt->count() > 0;
    o->kv_type_set = kv_opt->count() > 0;
    o->kv = *tensor::parse_kv_type(o->kv_type);
    if (Status st = parse_format(*o); !st.ok()) throw CLI::RuntimeError(fail(st));
    // A model name with a server running: let the server do the work (like `ollama run`).
    if (!o->local && !std::filesystem::is_regular_file(o->model) && o->tokens.empty() && !o->kv_type_set) {
      int rc = 0;
      if (run_via_server(*o, &rc)) {
        if (rc != 0) throw CLI::RuntimeError(rc);
        return;
      }
    }
    // A GGUF path, or a model of the store (with its Modelfile settings).
    std::string path = o->model;
    std::optional<store::Manifest> manifest;
    if (!std::filesystem::is_regular_file(path)) {
      store::Store st(store::Store::default_home());
      auto sm = st.get(o->model);
      if (!sm.ok()) throw CLI::RuntimeError(fail(not_found(o->model + ": neither a GGUF file nor a model in the store")));
      manifest = sm->manifest;
      path = st.blob_path(sm->manifest.model_digest);
      // Modelfile PARAMETERs, unless given on the command line.
      for (const auto& [k, v] : sm->manifest.modelfile.parameters.items()) {
        if (k == "stop") {
          if (o->stops.empty())
            for (const auto& x : v) o->stops.push_back(x.get<std::string>());
        } else if (k == "num_predict") {
          if (!o->n_predict_set) o->n_predict = v.get<int>();
        } else if (k == "num_ctx") {
          if (o->ctx == 0) o->ctx = v.get<int64_t>();
        } else if (!o->cli_set.count(k)) {
          (void)sampling::set_option(o->sp, k, v.is_string() ? v.get<std::string>() : v.dump());
        }
      }
      if (o->system.empty() && sm->manifest.modelfile.has_system) o->system = sm->manifest.modelfile.system;
      if (sm->manifest.modelfile.has_template) o->go_template = sm->manifest.modelfile.template_text;
      for (const auto& digest : sm->manifest.adapter_digests) o->adapters.push_back(st.blob_path(digest));
    }
    auto m = model::Model::load(path);
    if (!m.ok()) throw CLI::RuntimeError(fail(m.status()));
    if (Status st = model::check_kv_type(m.value()->hparams(), o->kv); !st.ok()) throw CLI::RuntimeError(fail(st));
    for (const auto& a : o->adapters) {
      auto af = gguf::File::open(a);
      if (!af.ok()) throw CLI::RuntimeError(fail(af.status()));
      Status s = m.value()->apply_lora(std::make_shared<gguf::File>(std::move(af.value())));
      if (!s.ok()) throw CLI::RuntimeError(fail(s));
    }
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
    std::optional<chat::ThinkingParser> parser;  // a Modelfile TEMPLATE with thinking tags
    if (!o->tokens.empty()) {
      auto ids = parse_token_list(o->tokens);
      if (!ids.ok()) throw CLI::RuntimeError(fail(ids.status()));
      prompt = ids.value();
    } else {
      if (!o->go_template.empty()) {  // the Modelfile TEMPLATE shapes the prompt
        auto t = store::GoTemplate::parse(o->go_template);
        if (!t.ok()) throw CLI::RuntimeError(fail(t.status()));
        const auto tags = chat::infer_thinking_tags(o->go_template);
        const std::optional<bool> think = think_of(*o);
        if (think.value_or(false) && !tags)
          throw CLI::RuntimeError(fail(invalid_argument("this model does not support thinking (its template has no thinking tags)")));
        const bool thinking_on = think.value_or(tags.has_value());
        nlohmann::ordered_json data = {{"System", o->system}, {"Prompt", o->prompt}, {"Response", ""},
                                       {"Messages", {{{"Role", "user"}, {"Content", o->prompt}}}},
                                       {"Think", thinking_on}, {"ThinkLevel", think_level_of(*o)},
                                       {"IsThinkSet", think.has_value()}};
        auto text = t.value()->render(data);
        if (!text.ok()) throw CLI::RuntimeError(fail(text.status()));
        if (thinking_on && tags) parser.emplace(*tags, chat::prompt_opens_thinking(text.value(), *tags));
        prompt = tok.value()->encode(text.value(), true, true);
      } else {
        if (think_of(*o).value_or(false))
          throw CLI::RuntimeError(fail(invalid_argument(
              "--think applies to chats and to Modelfile TEMPLATEs; -p on a GGUF file is a plain continuation")));
        prompt = tok.value()->encode(o->prompt, true, false);
      }
    }
    model::Context ctx(m.value(), o->ctx, o->threads, o->kv);
    sampling::SamplerChain chain(o->sp, static_cast<int32_t>(m.value()->hparams().n_vocab));
    std::vector<int32_t> history;
    LocalReply out(chain, *tok.value(), o->schema, std::move(parser), o->hide_thinking);
    auto r = generate(ctx, history, prompt, *tok.value(), chain, o->n_predict, o->stops, o->ignore_eos,
                      [&](const std::string& t) { out.push(t); });
    out.finish();
    if (!r.status.ok()) throw CLI::RuntimeError(fail(r.status));
    if (isatty(STDOUT_FILENO)) std::printf("\n");
  });
}

}  // namespace hearth::app
