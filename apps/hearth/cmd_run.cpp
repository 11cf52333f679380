// hearth run MODEL.gguf [-p "prompt" | --tokens 1,2,3] [sampling options]
// With a prompt: prints the continuation as it is generated (exactly its
// bytes; a final newline only on a terminal). Without one: an interactive
// chat using the model's chat template, with `ollama run`'s slash commands
// (chat_commands.h). A model name with a server running goes through it.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>

#include "chat/chat_template.h"
#include "chat/thinking.h"
#include "core/json_depth.h"
#include "runtime/model_show.h"
#include "sampling/json_schema.h"
#include "server/fields.h"
#include "server/http_client.h"
#include "store/go_template.h"
#include "store/store.h"
#include "chat_commands.h"
#include "commands.h"
#include "generation.h"
#include "run_options.h"

namespace hearth::app {

namespace {

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

// --verbose figures of a local reply.
ReplyStats local_stats(const GenerationResult& r, double load_s = 0) {
  ReplyStats st;
  st.load_s = load_s;
  st.prompt_eval_count = r.prompt_eval_count;
  st.prompt_eval_s = r.prompt_eval_s;
  st.eval_count = static_cast<int64_t>(r.tokens.size());
  st.eval_s = r.eval_s;
  st.total_s = load_s + r.prompt_eval_s + r.eval_s;
  return st;
}

// /save NAME, reported as `ollama run` reports it.
void save(const ChatSession& session, const nlohmann::ordered_json& messages, bool server) {
  Status st = save_session(session, messages, session.arg, server);
  if (st.ok()) std::fprintf(stderr, "Created new model '%s'\n", session.arg.c_str());
  else std::fprintf(stderr, "Couldn't save '%s': %s\n", session.arg.c_str(), st.message().c_str());
}

// The conversation so far, reset by /clear (then only the system message
// and the opening messages: a store model's SYSTEM and MESSAGEs, in a local
// session; a server puts them in itself).
struct Conversation {
  std::string model_system;  // the system message when the user set none
  nlohmann::ordered_json opening = nlohmann::ordered_json::array();
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  void reset(const std::string& user_system) {
    const std::string& system = user_system.empty() ? model_system : user_system;
    messages = nlohmann::ordered_json::array();
    if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
    for (const auto& m : opening) messages.push_back(m);
  }
};

// The read loop of a session, local or through a server: the commands that
// touch the conversation are handled here; each message goes to `answer`
// (which adds the turn to the conversation when it succeeds), /load NAME to
// `load` (which returns true when the session is to end there: a local
// session starts again with the model it loaded).
void run_session(ChatSession& session, Conversation& conv, bool server,
                 const std::function<void(const std::string&)>& answer,
                 const std::function<bool(const std::string&)>& load) {
  const bool tty = isatty(STDIN_FILENO);
  for (;;) {
    if (tty) std::fprintf(stderr, ">>> ");
    bool eof = false;
    const std::string input = read_chat_input(&eof);
    if (eof && input.empty()) return;
    switch (chat_command(input, session)) {
      case ChatCommand::kBye: return;
      case ChatCommand::kClear: conv.reset(session.o.system); break;
      case ChatCommand::kSystem: conv.messages.push_back({{"role", "system"}, {"content", session.o.system}}); break;
      case ChatCommand::kSave: save(session, conv.messages, server); break;
      case ChatCommand::kLoad:
        if (load(session.arg)) return;
        break;
      case ChatCommand::kHandled: break;
      case ChatCommand::kMessage:
        if (!input.empty()) answer(input);
        break;
    }
  }
}

// A model loaded in this process for `hearth run`: a GGUF file, or a model
// of the store with its Modelfile.
struct LocalModel {
  std::shared_ptr<model::Model> model;
  std::shared_ptr<const tokenizer::Tokenizer> tok;
  std::optional<store::Manifest> manifest;
  std::string path;  // the GGUF file
  double load_s = 0;
  std::string template_source;  // a chat's template (load_chat_template)
  std::shared_ptr<const chat::jinja::Template> chat_template;
  const store::Manifest* manifest_or_null() const { return manifest ? &*manifest : nullptr; }
};

// Resolves `name` (a GGUF path or a model of the store), loads the weights,
// the store model's adapters and the tokenizer, and checks the KV cache type
// against the model.
Result<LocalModel> load_local(const std::string& name, tensor::KvType kv) {
  LocalModel lm;
  lm.path = name;
  std::vector<std::string> adapters;
  if (!std::filesystem::is_regular_file(name)) {
    store::Store st(store::Store::default_home());
    auto sm = st.get(name);
    if (!sm.ok()) return not_found(name + ": neither a GGUF file nor a model in the store");
    lm.manifest = sm->manifest;
    lm.path = st.blob_path(sm->manifest.model_digest);
    for (const auto& digest : sm->manifest.adapter_digests) adapters.push_back(st.blob_path(digest));
  }
  const auto t_load = std::chrono::steady_clock::now();
  HEARTH_ASSIGN_OR_RETURN(lm.model, model::Model::load(lm.path));
  lm.load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
  HEARTH_RETURN_IF_ERROR(model::check_kv_type(lm.model->hparams(), kv));
  for (const auto& a : adapters) {
    HEARTH_ASSIGN_OR_RETURN(gguf::File af, gguf::File::open(a));
    HEARTH_RETURN_IF_ERROR(lm.model->apply_lora(std::make_shared<gguf::File>(std::move(af))));
  }
  HEARTH_ASSIGN_OR_RETURN(lm.tok, tokenizer::Tokenizer::load(lm.model->file()));
  return lm;
}

// The template a local chat formats with: --chat-template, else the model's
// own, else ChatML.
Status load_chat_template(const RunOpts& user, LocalModel* lm) {
  std::string source = lm->model->file().get_string_or("tokenizer.chat_template", "");
  if (!user.template_name.empty() || source.empty()) {
    HEARTH_ASSIGN_OR_RETURN(source, chat::builtin_template_source(user.template_name.empty() ? "chatml" : user.template_name));
  }
  HEARTH_ASSIGN_OR_RETURN(lm->chat_template, chat::jinja::Template::parse(source));
  lm->template_source = std::move(source);
  return Status();
}

// What a local run uses: the options the user set (command line, /set), and
// a store model's Modelfile for the rest (PARAMETERs, SYSTEM, TEMPLATE).
RunOpts with_modelfile(const RunOpts& user, const store::Manifest* m) {
  RunOpts o = user;
  if (!m) return o;
  for (const auto& [k, v] : m->modelfile.parameters.items()) {
    if (k == "stop") {
      if (user.stops.empty())
        for (const auto& x : v) o.stops.push_back(x.get<std::string>());
    } else if (k == "num_predict") {
      if (!o.n_predict_set) o.n_predict = v.get<int>();
    } else if (k == "num_ctx") {
      if (o.ctx == 0) o.ctx = v.get<int64_t>();
    } else if (!o.cli_set.count(k)) {
      (void)sampling::set_option(o.sp, k, v.is_string() ? v.get<std::string>() : v.dump());
    }
  }
  if (o.system.empty() && m->modelfile.has_system) o.system = m->modelfile.system;
  if (m->modelfile.has_template) o.go_template = m->modelfile.template_text;
  return o;
}

// A chat with one local model until /bye, the end of input, or /load of
// another model (then *next holds it, loaded). `user`: the options the user
// set, which /set changes and which carry over to the next model.
int chat_with_model(RunOpts& user, const LocalModel& lm, bool first, std::optional<LocalModel>* next) {
  const std::shared_ptr<model::Model>& m = lm.model;
  const tokenizer::Tokenizer& tok = *lm.tok;
  const store::Manifest* manifest = lm.manifest_or_null();
  const RunOpts start = with_modelfile(user, manifest);
  // Thinking, as the server decides it: the template in use has thinking tags.
  const std::optional<chat::ThinkingTags> tags =
      chat::infer_thinking_tags(start.go_template.empty() ? lm.template_source : start.go_template);
  if (think_of(user).value_or(false) && !tags) {
    if (first) return fail(invalid_argument("this model does not support thinking (its template has no thinking tags)"));
    std::fprintf(stderr, "This model does not support thinking: thinking is off\n");
    user.think.clear();
  }
  model::Context ctx(m, start.ctx, user.threads, user.kv);
  std::vector<int32_t> history;
  ChatSession session{user, runtime::show_model(m->file(), lm.path, manifest, ""), tags.has_value(),
                      static_cast<int32_t>(m->hparams().n_vocab), /*local=*/true, {}};
  Conversation conv;
  if (manifest) {
    if (manifest->modelfile.has_system) conv.model_system = manifest->modelfile.system;
    for (const auto& [role, content] : manifest->modelfile.messages) conv.opening.push_back({{"role", role}, {"content", content}});
  }
  conv.reset(user.system);
  auto load = [&](const std::string& name) -> bool {  // another model in its place, a new conversation
    std::fprintf(stderr, "Loading model '%s'\n", name.c_str());
    auto l = load_local(name, user.kv);
    Status st = l.ok() ? with_modelfile(user, l->manifest_or_null()).sp.validate(static_cast<int32_t>(l->model->hparams().n_vocab))
                       : l.status();
    if (st.ok()) st = load_chat_template(user, &l.value());
    if (!st.ok()) {
      std::fprintf(stderr, "Couldn't load '%s': %s\n", name.c_str(), st.message().c_str());
      return false;
    }
    user.model = name;
    *next = std::move(l).value();
    return true;
  };
  auto answer = [&](const std::string& input) {
    const RunOpts o = with_modelfile(user, manifest);  // (/set may have changed what the user set)
    const std::optional<bool> think = think_of(o);
    const bool thinking_on = think.value_or(tags.has_value());
    auto& messages = conv.messages;
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
      std::string system;
      for (const auto& mm : messages)
        if (mm["role"] != "system") msgs.push_back({{"Role", mm["role"]}, {"Content", mm["content"]}});
        else system = mm["content"].get<std::string>();
      prompt_text = gt.ok() ? gt.value()->render({{"System", system}, {"Prompt", input}, {"Response", ""}, {"Messages", msgs},
                                                  {"Think", thinking_on}, {"ThinkLevel", think_level_of(o)},
                                                  {"IsThinkSet", think.has_value()}})
                            : Result<std::string>(gt.status());
    } else {
      prompt_text = chat::render(*lm.chat_template, req);
    }
    if (!prompt_text.ok()) {
      fail(prompt_text.status());
      messages.erase(messages.end() - 1);
      return;
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
    std::printf("\n\n");
    if (!r.status.ok()) {
      fail(r.status);
      messages.erase(messages.end() - 1);
      return;
    }
    if (o.verbose) print_stats(local_stats(r));
    messages.push_back({{"role", "assistant"}, {"content", out.content}});
    if (!out.reasoning.empty()) messages.back()["reasoning_content"] = out.reasoning;
  };
  run_session(session, conv, /*server=*/false, answer, load);
  return 0;
}

// An interactive local session; /load NAME goes on with another model (a new
// conversation; the options the user set carry over, the Modelfile's are the
// new model's). The next model loads before the current one is let go, so
// a failed /load leaves the session as it was.
int chat_loop(RunOpts& user, LocalModel lm) {
  for (bool first = true;; first = false) {
    std::optional<LocalModel> next;
    const int rc = chat_with_model(user, lm, first, &next);
    if (rc != 0 || !next) return rc;
    lm = std::move(*next);
  }
}

// Streams one NDJSON request; prints the text fields as they come. *done:
// the last object (its timings).
Status stream_from_server(const server::Url& url, const std::string& path, const nlohmann::json& body, const char* field,
                          std::string* collected, ThinkingDisplay& show, nlohmann::json* done) {
  std::string buf;
  Status err;
  auto r = server::http_request(url, "POST", path, body.dump(), [&](const char* d, size_t n) {
    buf.append(d, n);
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      auto j = core::parse_json_bounded<nlohmann::json>(buf.substr(0, nl));
      buf.erase(0, nl + 1);
      if (j.is_discarded()) continue;
      if (j.contains("error")) err = invalid_argument(j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump());
      const bool chat = std::string(field) == "message";
      const nlohmann::json& part = chat && j.contains("message") && j["message"].is_object() ? j["message"] : j;
      std::string text = part.value(chat ? "content" : "response", "");
      show.thinking(part.value("thinking", ""));
      show.content(text);
      if (collected) *collected += text;
      if (done && j.value("done", false)) *done = j;
    }
    return true;
  });
  if (!r.ok()) return r.status();
  if (r->status != 200) return server::answer_error(url, r.value());
  return err;
}

// True when a server is running and knows the model (then *rc is the exit code).
bool run_via_server(RunOpts& o, int* rc) {
  server::Url url = server::local_server();
  auto shown = server::http_request(url, "POST", "/api/show", nlohmann::json{{"model", o.model}}.dump());
  if (shown.ok() && shown->status == 401) {  // a server, which refuses the key
    *rc = fail(server::answer_error(url, shown.value()));
    return true;
  }
  if (!shown.ok() || shown->status != 200) return false;
  auto info = core::parse_json_bounded<nlohmann::ordered_json>(shown->body);
  if (info.is_discarded()) info = nlohmann::ordered_json::object();
  if (!o.prompt.empty()) {
    nlohmann::json body = {{"model", o.model}, {"prompt", o.prompt}, {"options", user_options(o)}};
    if (!o.keep_alive.empty()) body["keep_alive"] = o.keep_alive;
    if (!o.system.empty()) body["system"] = o.system;
    if (o.schema) body["format"] = o.format_wire;
    if (!o.think.empty()) body["think"] = think_json(o);
    ThinkingDisplay show{o.hide_thinking};
    nlohmann::json done;
    Status s = stream_from_server(url, "/api/generate", body, "response", nullptr, show, &done);
    show.close();
    if (!s.ok()) *rc = fail(s);
    if (isatty(STDOUT_FILENO)) std::printf("\n");
    if (s.ok() && o.verbose) print_stats(stats_from_response(done));
    return true;
  }
  // (Whether the model thinks is the server's to say: /set think is passed on.)
  ChatSession session{o, info, /*can_think=*/true, /*n_vocab=*/0, /*local=*/false, {}};
  Conversation conv;
  conv.reset(o.system);
  auto load = [&](const std::string& name) -> bool {  // another model of the server, a new conversation
    auto next = server::http_request(url, "POST", "/api/show", nlohmann::json{{"model", name}}.dump());
    auto next_info = next.ok() && next->status == 200 ? core::parse_json_bounded<nlohmann::ordered_json>(next->body)
                                                      : nlohmann::ordered_json();
    if (!next_info.is_object()) {
      std::fprintf(stderr, "Couldn't load '%s': the server does not have it\n", name.c_str());
      return false;
    }
    std::fprintf(stderr, "Loading model '%s'\n", name.c_str());
    o.model = name;
    session.show = std::move(next_info);
    conv.reset(o.system);
    nlohmann::json body = {{"model", o.model}, {"messages", nlohmann::json::array()}};
    if (!o.keep_alive.empty()) body["keep_alive"] = o.keep_alive;
    (void)server::http_request(url, "POST", "/api/chat", body.dump());
    return false;
  };
  auto answer = [&](const std::string& input) {
    auto& messages = conv.messages;
    messages.push_back({{"role", "user"}, {"content", input}});
    std::string reply;
    nlohmann::json body = {{"model", o.model}, {"messages", messages}, {"options", user_options(o)}};
    if (!o.keep_alive.empty()) body["keep_alive"] = o.keep_alive;
    if (o.schema) body["format"] = o.format_wire;
    if (!o.think.empty()) body["think"] = think_json(o);
    ThinkingDisplay show{o.hide_thinking};
    nlohmann::json done;
    Status s = stream_from_server(url, "/api/chat", body, "message", &reply, show, &done);
    show.close();
    std::printf("\n\n");
    if (!s.ok()) {
      fail(s);
      messages.erase(messages.end() - 1);
      return;
    }
    if (o.verbose) print_stats(stats_from_response(done));
    messages.push_back({{"role", "assistant"}, {"content", reply}});
  };
  run_session(session, conv, /*server=*/true, answer, load);
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
  cmd->add_flag("--verbose", o->verbose, "print timings after each reply (as `ollama run --verbose`)");
  cmd->add_option("--keepalive", o->keep_alive,
                  "through a server: how long it keeps the model loaded after each request (e.g. 5m, 1h, -1)")
      ->check([](const std::string& v) {
        return server::parse_duration(v) ? std::string() : "'" + v + "' is not a duration (e.g. 5m, 1h30m, 300, -1)";
      });
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
    auto lm = load_local(o->model, o->kv);
    if (!lm.ok()) throw CLI::RuntimeError(fail(lm.status()));
    const RunOpts e = with_modelfile(*o, lm->manifest_or_null());
    const std::shared_ptr<model::Model> m = lm->model;
    const std::shared_ptr<const tokenizer::Tokenizer> tok = lm->tok;
    const double load_s = lm->load_s;
    Status valid = e.sp.validate(static_cast<int32_t>(m->hparams().n_vocab));
    if (!valid.ok()) throw CLI::RuntimeError(fail(valid));
    if (o->prompt.empty() && o->tokens.empty()) {
      if (Status st = load_chat_template(*o, &lm.value()); !st.ok()) throw CLI::RuntimeError(fail(st));
      int rc = chat_loop(*o, std::move(lm).value());
      if (rc != 0) throw CLI::RuntimeError(rc);
      return;
    }
    std::vector<int32_t> prompt;
    std::optional<chat::ThinkingParser> parser;  // a Modelfile TEMPLATE with thinking tags
    if (!e.tokens.empty()) {
      auto ids = parse_token_list(e.tokens);
      if (!ids.ok()) throw CLI::RuntimeError(fail(ids.status()));
      prompt = ids.value();
    } else {
      if (!e.go_template.empty()) {  // the Modelfile TEMPLATE shapes the prompt
        auto t = store::GoTemplate::parse(e.go_template);
        if (!t.ok()) throw CLI::RuntimeError(fail(t.status()));
        const auto tags = chat::infer_thinking_tags(e.go_template);
        const std::optional<bool> think = think_of(e);
        if (think.value_or(false) && !tags)
          throw CLI::RuntimeError(fail(invalid_argument("this model does not support thinking (its template has no thinking tags)")));
        const bool thinking_on = think.value_or(tags.has_value());
        nlohmann::ordered_json data = {{"System", e.system}, {"Prompt", e.prompt}, {"Response", ""},
                                       {"Messages", {{{"Role", "user"}, {"Content", e.prompt}}}},
                                       {"Think", thinking_on}, {"ThinkLevel", think_level_of(e)},
                                       {"IsThinkSet", think.has_value()}};
        auto text = t.value()->render(data);
        if (!text.ok()) throw CLI::RuntimeError(fail(text.status()));
        if (thinking_on && tags) parser.emplace(*tags, chat::prompt_opens_thinking(text.value(), *tags));
        prompt = tok->encode(text.value(), true, true);
      } else {
        if (think_of(e).value_or(false))
          throw CLI::RuntimeError(fail(invalid_argument(
              "--think applies to chats and to Modelfile TEMPLATEs; -p on a GGUF file is a plain continuation")));
        prompt = tok->encode(e.prompt, true, false);
      }
    }
    model::Context ctx(m, e.ctx, e.threads, e.kv);
    sampling::SamplerChain chain(e.sp, static_cast<int32_t>(m->hparams().n_vocab));
    std::vector<int32_t> history;
    LocalReply out(chain, *tok, e.schema, std::move(parser), e.hide_thinking);
    auto r = generate(ctx, history, prompt, *tok, chain, e.n_predict, e.stops, e.ignore_eos,
                      [&](const std::string& t) { out.push(t); });
    out.finish();
    if (!r.status.ok()) throw CLI::RuntimeError(fail(r.status));
    if (isatty(STDOUT_FILENO)) std::printf("\n");
    if (e.verbose) print_stats(local_stats(r, load_s));
  });
}

}  // namespace hearth::app
