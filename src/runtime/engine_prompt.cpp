// A generate or chat request's prompt, rendered and tokenized.
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "chat/chat_template.h"
#include "core/json_depth.h"
#include "runtime/engine_impl.h"

namespace hearth::runtime {

// The request's prompt as tokens: rendered by the Modelfile TEMPLATE, the
// model's chat template (chat messages, or a templated generate prompt) or
// taken raw, then tokenized (a BOS added once).
Result<std::vector<int32_t>> Engine::Impl::tokenize_prompt(Sequence& s) {
  const tokenizer::Tokenizer& tok = *s.lm->tok;
  std::string text;
  bool templated = false;
  const store::Modelfile* mf = s.lm->manifest ? &s.lm->manifest->modelfile : nullptr;
  if (mf && mf->has_system && s.req.system.empty() && !s.req.raw) {
    bool has_system_message = false;
    if (s.req.messages)
      for (const auto& m : *s.req.messages) has_system_message |= m.value("role", "") == "system";
    if (!has_system_message) s.req.system = mf->system;
  }
  // The request's template, else the Modelfile TEMPLATE (Go template syntax), decides the prompt.
  const store::GoTemplate* go = s.req.go_template ? s.req.go_template.get() : s.lm->go_template.get();
  if (!s.req.suffix.empty()) {
    if (s.req.raw) return invalid_argument("suffix cannot be used with raw: the template places it");
    if (go == nullptr || !go->uses_field("Suffix"))
      return invalid_argument("model '" + s.req.model + "' does not support insert (its template does not use .Suffix)");
  }
  // Thinking: what the template in use knows, the request's choice (on by
  // default for a templated prompt of a model that thinks, as in Ollama).
  const std::optional<chat::ThinkingTags> tags =
      s.req.go_template ? chat::infer_thinking_tags(s.req.go_template->source()) : s.lm->thinking_tags;
  if (s.req.think.value_or(false) && !tags)
    return invalid_argument("\"" + s.req.model + "\" does not support thinking (its template has no thinking tags)");
  const bool uses_template = !s.req.raw && (go || s.req.messages || (s.req.template_prompt && s.lm->has_own_template));
  const bool think = s.req.think.value_or(tags.has_value() && uses_template);
  // An earlier turn's reasoning, as each side names it: Ollama `thinking`,
  // OpenAI-compatible servers `reasoning_content` / `reasoning`.
  auto reasoning_of = [](const nlohmann::ordered_json& m) -> std::string {
    for (const char* k : {"thinking", "reasoning_content", "reasoning"})
      if (m.contains(k) && m[k].is_string()) return m[k].get<std::string>();
    return "";
  };
  if (go && !s.req.raw) {
    nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
    if (mf && s.req.context.empty())  // (as Ollama: a continued context has had them)
      for (const auto& [r, c] : mf->messages) msgs.push_back({{"Role", r}, {"Content", c}});
    std::string system = s.req.system, prompt = s.req.prompt;
    if (s.req.messages) {
      for (const auto& m : *s.req.messages) {
        std::string role = m.value("role", ""), content = m.contains("content") && m["content"].is_string() ? m["content"].get<std::string>() : "";
        if (role == "system") {
          system = content;
          continue;
        }
        nlohmann::ordered_json msg = {{"Role", role}, {"Content", content}};
        if (std::string r = reasoning_of(m); !r.empty()) msg["Thinking"] = std::move(r);
        if (m.contains("name") && m["name"].is_string()) msg["ToolName"] = m["name"];
        // Ollama's template data for an assistant's calls: .ToolCalls, each
        // .Function.Name and .Function.Arguments (an object, printed as
        // JSON); stored as Ollama marshals them, {"function": {"name",
        // "arguments"}} (the templates' field lookup finds lower-case keys).
        if (m.contains("tool_calls") && m["tool_calls"].is_array()) {
          nlohmann::ordered_json calls = nlohmann::ordered_json::array();
          for (const auto& c : m["tool_calls"]) {
            const auto& f = c.contains("function") && c["function"].is_object() ? c["function"] : c;
            if (!f.is_object() || !f.contains("name")) continue;
            nlohmann::ordered_json args = f.contains("arguments") ? f["arguments"] : nlohmann::ordered_json::object();
            if (args.is_string()) {
              auto parsed = core::parse_json_bounded<nlohmann::ordered_json>(args.get<std::string>());
              if (parsed.is_object()) args = std::move(parsed);
            }
            calls.push_back({{"function", {{"name", f["name"]}, {"arguments", args}}}});
          }
          if (!calls.empty()) msg["ToolCalls"] = std::move(calls);
        }
        msgs.push_back(std::move(msg));
        if (role == "user") prompt = content;
      }
    } else {
      msgs.push_back({{"Role", "user"}, {"Content", prompt}});
    }
    nlohmann::ordered_json data = {{"System", system}, {"Prompt", prompt}, {"Suffix", s.req.suffix}, {"Response", ""},
                                   {"Messages", msgs},
                                   {"Tools", s.req.tools ? *s.req.tools : nlohmann::ordered_json::array()},
                                   {"Think", think}, {"ThinkLevel", s.req.think_level},
                                   {"IsThinkSet", s.req.think.has_value()}};
    auto r = go->render(data);
    if (!r.ok()) return r.status();
    text = r.value();
    templated = true;
  } else if (s.req.template_prompt && !s.req.raw && s.lm->has_own_template)
    s.req.messages = nlohmann::ordered_json::array({{{"role", "user"}, {"content", s.req.prompt}}});
  else if (s.req.template_prompt && !s.req.system.empty())
    s.req.prompt = s.req.system + "\n\n" + s.req.prompt;
  if (!templated && s.req.messages && !s.req.raw) {
    chat::RenderRequest rr;
    rr.messages = *s.req.messages;
    for (auto& m : rr.messages)  // templates (Qwen 3's) read `reasoning_content`
      if (m.is_object() && !m.contains("reasoning_content"))
        if (std::string r = reasoning_of(m); !r.empty()) m["reasoning_content"] = std::move(r);
    if (tags || s.req.think) rr.enable_thinking = think;
    rr.reasoning_effort = s.req.think_level;
    if (s.req.template_kwargs.is_object()) rr.extra = s.req.template_kwargs;
    // The Modelfile's MESSAGEs open the conversation, as in Ollama (not when
    // a previous response's context continues it), after a system message
    // the request begins with (templates may insist that it comes first).
    if (mf && s.req.context.empty() && !mf->messages.empty()) {
      auto at = rr.messages.begin();
      if (at != rr.messages.end() && at->is_object() && at->value("role", "") == "system") ++at;
      nlohmann::ordered_json pre = nlohmann::ordered_json::array();
      for (const auto& [r, c] : mf->messages) pre.push_back({{"role", r}, {"content", c}});
      rr.messages.insert(at, pre.begin(), pre.end());
    }
    // (One value: insert() of a braced list would insert its two pairs as two messages.)
    if (!s.req.system.empty())
      rr.messages.insert(rr.messages.begin(), nlohmann::ordered_json{{"role", "system"}, {"content", s.req.system}});
    rr.tools = s.req.tools;
    rr.add_generation_prompt = true;
    const auto& v = tok.vocab();
    if (v.bos != tokenizer::kNoToken) rr.bos_token = v.tokens[v.bos].text;
    if (v.eos != tokenizer::kNoToken) rr.eos_token = v.tokens[v.eos].text;
    auto r = chat::render(*s.lm->tmpl, rr);
    if (!r.ok()) return r.status();
    text = r.value();
    templated = true;
  } else if (!templated) {
    text = s.req.prompt;
  }
  if (think && tags)
    s.thinking = std::make_unique<chat::ThinkingParser>(*tags, chat::prompt_opens_thinking(text, *tags));
  else
    s.thinking.reset();
  std::vector<int32_t> ids;
  if (templated) {
    ids = tok.encode(text, false, true);
    const auto& v = tok.vocab();
    if (v.add_bos && v.bos != tokenizer::kNoToken && (ids.empty() || ids[0] != v.bos))
      ids.insert(ids.begin(), v.bos);
  } else {
    ids = tok.encode(text, true, false);
  }
  if (!s.req.context.empty()) {  // a previous response's tokens, then this prompt without a BOS of its own
    const int64_t n_vocab = s.lm->model->hparams().n_vocab;
    for (int32_t id : s.req.context)
      if (id < 0 || id >= n_vocab)
        return invalid_argument("context holds token id " + std::to_string(id) + ", outside the model's vocabulary of " +
                                std::to_string(n_vocab));
    const auto& v = tok.vocab();
    if (!ids.empty() && v.bos != tokenizer::kNoToken && ids[0] == v.bos) ids.erase(ids.begin());
    ids.insert(ids.begin(), s.req.context.begin(), s.req.context.end());
  }
  return ids;
}

size_t request_text_bytes(const GenerateRequest& r) {
  size_t n = r.prompt.size() + r.system.size() + r.suffix.size();
  // The strings inside messages and tools (iteratively: no recursion per level).
  std::vector<const nlohmann::ordered_json*> todo;
  if (r.messages) todo.push_back(&*r.messages);
  if (r.tools) todo.push_back(&*r.tools);
  while (!todo.empty()) {
    const nlohmann::ordered_json* j = todo.back();
    todo.pop_back();
    if (j->is_string()) n += j->get_ref<const std::string&>().size();
    else if (j->is_structured())
      for (const auto& v : *j) todo.push_back(&v);
  }
  if (r.embed)
    for (const auto& t : r.embed->inputs) n += t.size();
  return n;
}

// What admission needs from the request's text: on the scheduler thread
// for small requests, else on the preparer thread, which owns `s`
// meanwhile. Reads only the sequence and its loaded model
// (immutable after load; tokenizers and templates may be used from several
// threads at once).
void Engine::Impl::prepare(Sequence& s) {
  if (s.req.embed) {
    tokenize_embedding(s);
    return;
  }
  auto prompt = tokenize_prompt(s);
  if (prompt.ok()) s.prompt = std::move(prompt.value());
  else s.prompt_status = prompt.status();
}

void Engine::Impl::prepare_loop() {
  // Below the forward pass's threads: on a machine whose cores they fill, a
  // long tokenization takes its share of what they leave (nice 10: about a
  // tenth of a core when they want both) instead of preempting one of them
  // for whole time slices while the other waits for it at each product.
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);  // best effort
  for (;;) {
    std::unique_ptr<Sequence> s;
    {
      std::unique_lock<std::mutex> lock(mu);
      prepare_cv.wait(lock, [&] { return stop_preparer || !to_prepare.empty(); });
      if (to_prepare.empty()) return;  // stopping, nothing handed over
      s = std::move(to_prepare.front());
      to_prepare.pop_front();
    }
    if (!s->stream->cancelled()) {  // (a cancelled one goes back to be released)
      try {
        prepare(*s);
      } catch (const std::bad_alloc&) {
        s->prompt_status = unavailable("not enough memory to tokenize the request");
      } catch (const std::exception& ex) {
        s->prompt_status = Status(StatusCode::kInternal, std::string("preparing the prompt failed: ") + ex.what());
      }
    }
    s->prepared = true;
    {
      std::lock_guard<std::mutex> lock(mu);
      prepared.push_back(std::move(s));
    }
    cv.notify_one();
  }
}

}  // namespace hearth::runtime
