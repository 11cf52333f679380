// OpenAI wire format: /v1/models, /v1/chat/completions, /v1/completions
// (SSE streaming with [DONE], include_usage, n, logprobs).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <chrono>
#include <random>

#include "core/json_depth.h"
#include "server/api.h"
#include "server/openai_common.h"

namespace hearth::server {

using runtime::Event;

std::string make_id(const char* prefix, char sep) {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = std::random_device{}();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%c%016llx%04llx", prefix, sep, static_cast<unsigned long long>(salt),
                static_cast<unsigned long long>(counter++ & 0xffff));
  return buf;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string dump(const Json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

std::string content_text(const Json& content, const std::string& path, std::initializer_list<const char*> types,
                         const char* sep) {
  if (content.is_string()) return content.get<std::string>();
  if (content.is_null()) return "";
  if (!content.is_array()) bad_request(path + " must be a string or an array of parts", path);
  std::string text;
  for (size_t j = 0; j < content.size(); ++j) {
    const Json& part = content[j];
    const std::string pp = path + "[" + std::to_string(j) + "]";
    if (!part.is_object()) bad_request(pp + " must be an object", pp);
    const std::string type = opt_string(part, "type", pp).value_or("");
    if (std::none_of(types.begin(), types.end(), [&](const char* t) { return type == t; }))
      bad_request(pp + ": parts of type '" + type.substr(0, 40) + "' are not supported here (text only)", pp);
    if (j > 0) text += sep;
    text += req_string(part, "text", pp);
  }
  return text;
}

namespace {

Json bytes_of(const std::string& s) {
  Json b = Json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

void parse_common(Api& api, const Json& body, ParsedChat* p, bool chat) {
  auto& r = p->req;
  r.model = req_string(body, "model");
  GenerationOptions opt;
  apply_options(api.engine().model_parameters(r.model), &opt, "modelfile");
  // OpenAI names first, then the extensions local servers accept.
  if (auto v = opt_number(body, "temperature", 0, 2)) opt.sampling.temperature = static_cast<float>(*v);
  if (auto v = opt_number(body, "top_p", 0, 1)) opt.sampling.top_p = static_cast<float>(*v);
  if (auto v = opt_number(body, "presence_penalty", -2, 2)) opt.sampling.presence_penalty = static_cast<float>(*v);
  if (auto v = opt_number(body, "frequency_penalty", -2, 2)) opt.sampling.frequency_penalty = static_cast<float>(*v);
  if (auto v = opt_int(body, "seed", INT64_MIN, INT64_MAX)) opt.sampling.seed = *v;
  Json ext = Json::object();
  for (const char* k : {"top_k", "min_p", "typical_p", "tfs_z", "repeat_penalty", "repeat_last_n", "mirostat", "mirostat_tau",
                        "mirostat_eta", "num_ctx"})
    if (body.contains(k)) ext[k] = body[k];
  apply_options(ext, &opt, "");
  r.sampling = opt.sampling;
  if (opt.num_ctx) r.num_ctx = *opt.num_ctx;
  auto max_tokens = opt_int(body, chat ? "max_completion_tokens" : "max_tokens", 1, 1 << 24);
  if (!max_tokens) max_tokens = opt_int(body, "max_tokens", 1, 1 << 24);
  r.num_predict = max_tokens ? static_cast<int>(*max_tokens)
                             : opt.num_predict ? static_cast<int>(*opt.num_predict) : (chat ? -1 : 16);
  r.stop = body.contains("stop") ? string_or_list(body, "stop", 4) : opt.stop;
  if (body.contains("logit_bias") && !body["logit_bias"].is_null()) {
    if (!body["logit_bias"].is_object()) bad_request("logit_bias must be an object of token id -> bias", "logit_bias");
    for (const auto& [k, v] : body["logit_bias"].items()) {
      char* end = nullptr;
      long id = std::strtol(k.c_str(), &end, 10);
      if (k.empty() || *end != '\0' || id < 0) bad_request("logit_bias keys must be token ids, got '" + k + "'", "logit_bias");
      if (!v.is_number() || v.get<double>() < -100 || v.get<double>() > 100)
        bad_request("logit_bias values must be numbers between -100 and 100", "logit_bias");
      r.sampling.logit_bias[static_cast<int32_t>(id)] = v.get<float>();
    }
  }
  p->n = static_cast<int>(opt_int(body, "n", 1, 8).value_or(1));
  p->stream = opt_bool(body, "stream").value_or(false);
  if (body.contains("stream_options") && body["stream_options"].is_object())
    p->include_usage = opt_bool(body["stream_options"], "include_usage", "stream_options").value_or(false);
  if (chat) {
    p->logprobs = opt_bool(body, "logprobs").value_or(false);
    auto top = opt_int(body, "top_logprobs", 0, 20);
    if (top && !p->logprobs) bad_request("top_logprobs requires logprobs to be true", "top_logprobs");
    if (p->logprobs) r.top_logprobs = static_cast<int>(top.value_or(0));
  } else if (body.contains("logprobs") && !body["logprobs"].is_null()) {
    auto lp = opt_int(body, "logprobs", 0, 5);
    if (lp) {
      p->logprobs = true;
      r.top_logprobs = static_cast<int>(*lp);
    }
  }
  if (body.contains("response_format") && !body["response_format"].is_null()) {
    if (!body["response_format"].is_object()) bad_request("response_format must be an object", "response_format");
    std::string type = opt_string(body["response_format"], "type", "response_format").value_or("text");
    if (type == "json_object") {
      r.json_schema = sampling::JsonSchema::any_object();
    } else if (type == "json_schema") {
      // {"type": "json_schema", "json_schema": {"name", "schema", "strict"}}
      const Json& js = body["response_format"].contains("json_schema") ? body["response_format"]["json_schema"] : Json();
      if (!js.is_object() || !js.contains("schema"))
        bad_request("response_format.json_schema.schema is required", "response_format");
      auto schema = sampling::JsonSchema::compile(js["schema"], "response_format.json_schema.schema");
      if (!schema.ok()) bad_request(schema.status().message(), "response_format");
      r.json_schema = schema.value();
    }
    else if (type != "text")
      bad_request("response_format type must be 'text', 'json_object' or 'json_schema', not '" + type.substr(0, 40) + "'",
                  "response_format");
  }
}

Json chat_logprob(const runtime::TokenLogprob& t) {
  Json top = Json::array();
  for (const auto& [s, lp] : t.top) top.push_back({{"token", s}, {"logprob", lp}, {"bytes", bytes_of(s)}});
  return {{"token", t.text}, {"logprob", t.logprob}, {"bytes", bytes_of(t.text)}, {"top_logprobs", top}};
}

// Runs p.n copies of each prompt's request (a chat has one; completions
// take a batch) and serves them as one OpenAI response: choice k is copy
// k % n of prompt k / n.
void serve(Api& api, const HttpRequest&, Responder& res, ParsedChat p, bool chat, std::vector<std::string> echo_prefixes = {}) {
  const std::string id = make_id(chat ? "chatcmpl" : "cmpl");
  const int64_t created = unix_now();
  const std::string model = p.req.model;
  const char* object = chat ? (p.stream ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  if (p.batch.empty()) p.batch.push_back(p.req);
  echo_prefixes.resize(p.batch.size());
  const size_t n_choices = p.batch.size() * static_cast<size_t>(p.n);
  std::vector<std::shared_ptr<runtime::RequestStream>> streams;
  for (size_t k = 0; k < n_choices; ++k) {
    runtime::GenerateRequest r = p.batch[k / static_cast<size_t>(p.n)];
    if (r.sampling.seed >= 0) r.sampling.seed += static_cast<int64_t>(k % static_cast<size_t>(p.n));
    auto s = api.engine().submit(std::move(r));
    if (!s.ok()) {
      for (auto& st : streams) st->cancel();
      return send_openai_error(res, http_status_for(s.status()), s.status().message(), s.status().code() == StatusCode::kNotFound ? "model" : "");
    }
    streams.push_back(s.value());
  }
  struct Choice {
    std::string text, reasoning;
    Json logprobs = Json::array();
    std::string finish;
    Json tool_calls;  // null, or the reply's calls
    bool done = false;
  };
  std::vector<Choice> choices(n_choices);
  auto echo_of = [&](size_t k) -> const std::string& { return echo_prefixes[k / static_cast<size_t>(p.n)]; };
  runtime::Usage usage;
  auto chunk = [&](int index, const Json& delta_or_text, const Json& finish, const Json& logprobs) {
    Json c = {{"index", index}};
    if (chat) c["delta"] = delta_or_text;
    else c["text"] = delta_or_text;
    c["logprobs"] = logprobs;
    c["finish_reason"] = finish;
    return Json{{"id", id}, {"object", object}, {"created", created}, {"model", model}, {"choices", {c}}};
  };
  auto send_sse = [&](const Json& j) { return res.write_chunk("data: " + dump(j) + "\n\n"); };
  if (p.stream) {
    if (!res.begin_stream(200, "text/event-stream")) return;
    for (size_t k = 0; k < n_choices; ++k) {
      if (chat) send_sse(chunk(static_cast<int>(k), {{"role", "assistant"}, {"content", ""}}, nullptr, nullptr));
      if (!echo_of(k).empty()) send_sse(chunk(static_cast<int>(k), echo_of(k), nullptr, nullptr));
    }
  }
  size_t remaining = streams.size();
  while (remaining > 0) {
    bool any = false;
    for (size_t i = 0; i < streams.size(); ++i) {
      if (choices[i].done) continue;
      Event ev;
      if (!streams[i]->next(&ev, std::chrono::milliseconds(streams.size() == 1 ? 100 : 5))) continue;
      any = true;
      if (ev.kind == Event::Kind::kError) {
        for (auto& s : streams) s->cancel();
        if (!res.started()) return send_openai_error(res, http_status_for(ev.error), ev.error.message());
        send_sse({{"error", {{"message", ev.error.message()}, {"type", "server_error"}}}});
        res.end_stream();
        return;
      }
      if (ev.kind == Event::Kind::kToken) {
        Json lp = nullptr;
        if (ev.logprob) {
          if (chat) lp = {{"content", Json::array({chat_logprob(*ev.logprob)})}};
          else lp = {{"tokens", {ev.logprob->text}}, {"token_logprobs", {ev.logprob->logprob}}};
        }
        if (p.stream) {
          Json delta = chat ? Json{{"content", ev.text}} : Json(ev.text);
          if (chat && !ev.thinking.empty()) {
            if (ev.text.empty()) delta.erase("content");
            delta["reasoning_content"] = ev.thinking;
            delta["reasoning"] = ev.thinking;
          }
          if (!send_sse(chunk(static_cast<int>(i), delta, nullptr, lp))) {
            for (auto& s : streams) s->cancel();
            return;
          }
        } else {
          choices[i].text += ev.text;
          choices[i].reasoning += ev.thinking;
          if (ev.logprob) choices[i].logprobs.push_back(chat_logprob(*ev.logprob));
        }
        continue;
      }
      choices[i].done = true;
      --remaining;
      choices[i].finish = sampling::finish_reason_name(ev.finish);
      if (!ev.tool_calls.empty()) {
        choices[i].finish = "tool_calls";
        choices[i].tool_calls = Json::array();
        for (const chat::ToolCall& call : ev.tool_calls) {
          Json c = {{"id", make_id("call")}, {"type", "function"},
                    {"function", {{"name", call.name}, {"arguments", call.arguments.dump()}}}};
          if (p.stream) c["index"] = choices[i].tool_calls.size();
          choices[i].tool_calls.push_back(std::move(c));
        }
        if (p.stream) send_sse(chunk(static_cast<int>(i), {{"tool_calls", choices[i].tool_calls}}, nullptr, nullptr));
      }
      if (i % static_cast<size_t>(p.n) == 0) usage.prompt_tokens += ev.usage.prompt_tokens;  // each prompt once
      usage.completion_tokens += ev.usage.completion_tokens;
      usage.cached_tokens = std::max(usage.cached_tokens, ev.usage.cached_tokens);
      if (p.stream) send_sse(chunk(static_cast<int>(i), chat ? Json::object() : Json(""), choices[i].finish, nullptr));
    }
    if (!any && res.client_gone()) {
      for (auto& s : streams) s->cancel();
      return;
    }
  }
  Json u = {{"prompt_tokens", usage.prompt_tokens}, {"completion_tokens", usage.completion_tokens},
            {"total_tokens", usage.prompt_tokens + usage.completion_tokens},
            {"prompt_tokens_details", {{"cached_tokens", usage.cached_tokens}}}};
  if (p.stream) {
    if (p.include_usage)
      send_sse({{"id", id}, {"object", object}, {"created", created}, {"model", model}, {"choices", Json::array()}, {"usage", u}});
    res.write_chunk("data: [DONE]\n\n");
    res.end_stream();
    return;
  }
  Json out_choices = Json::array();
  for (size_t i = 0; i < n_choices; ++i) {
    Json c = {{"index", i}};
    if (chat) {
      c["message"] = {{"role", "assistant"}, {"content", choices[i].text}};
      if (!choices[i].reasoning.empty()) {  // llama.cpp's server's name, and Ollama's
        c["message"]["reasoning_content"] = choices[i].reasoning;
        c["message"]["reasoning"] = choices[i].reasoning;
      }
      if (!choices[i].tool_calls.is_null()) {
        // As OpenAI answers: content null when the reply is only calls.
        if (choices[i].text.empty()) c["message"]["content"] = nullptr;
        c["message"]["tool_calls"] = choices[i].tool_calls;
      }
      c["logprobs"] = p.logprobs ? Json{{"content", choices[i].logprobs}} : Json();
    } else {
      c["text"] = echo_of(i) + choices[i].text;
      c["logprobs"] = nullptr;
    }
    c["finish_reason"] = choices[i].finish;
    out_choices.push_back(c);
  }
  res.send(200, "application/json",
           dump({{"id", id}, {"object", object}, {"created", created}, {"model", model}, {"choices", out_choices}, {"usage", u}}));
}

// tool_choice: "auto" (the default: the model may call a tool), "none" (the
// tools are not offered: the reply is text), "required" or {"type":
// "function", "function": {"name"}}: the reply is constrained (JSON mode) to
// one call, {"name", "arguments"}, of any offered function or of the named
// one, with arguments matching the function's parameters (any object where
// they use keywords JSON mode does not enforce).
void apply_tool_choice(const Json& choice, runtime::GenerateRequest* r) {
  std::string forced;
  if (choice.is_string()) {
    const std::string v = choice.get<std::string>();
    if (v == "auto") return;
    if (v == "none") {
      r->tools.reset();
      return;
    }
    if (v != "required") bad_request("tool_choice must be 'none', 'auto', 'required' or a function, not '" + v.substr(0, 40) + "'", "tool_choice");
  } else if (choice.is_object() && choice.value("type", "") == "function" && choice.contains("function") &&
             choice["function"].is_object() && choice["function"].contains("name") && choice["function"]["name"].is_string()) {
    forced = choice["function"]["name"].get<std::string>();
  } else {
    bad_request("tool_choice must be 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}",
                "tool_choice");
  }
  const std::vector<std::string> names = r->tools ? chat::tool_names(*r->tools) : std::vector<std::string>{};
  if (names.empty()) bad_request("tool_choice requires tools", "tool_choice");
  if (r->json_schema) bad_request("tool_choice cannot be combined with a JSON response_format", "tool_choice");
  if (!forced.empty() && std::find(names.begin(), names.end(), forced) == names.end())
    bad_request("tool_choice names '" + forced.substr(0, 60) + "', which is not among the tools", "tool_choice");
  // One alternative per function: its name, and its parameters as the
  // arguments' schema (any object where JSON mode cannot enforce them).
  Json alternatives = Json::array();
  for (const Json& t : *r->tools) {
    const Json& f = t.is_object() && t.contains("function") && t["function"].is_object() ? t["function"] : t;
    if (!f.is_object() || !f.contains("name") || !f["name"].is_string()) continue;
    const std::string name = f["name"].get<std::string>();
    if (!forced.empty() && name != forced) continue;
    auto alternative = [&](const Json& arguments) {
      return Json{{"type", "object"}, {"additionalProperties", false}, {"required", Json::array({"name", "arguments"})},
                  {"properties", {{"name", {{"const", name}}}, {"arguments", arguments}}}};
    };
    // (Compiled where it will stand, so that references inside the
    // parameters that would resolve elsewhere count as not enforceable.)
    Json a = f.contains("parameters") ? alternative(f["parameters"]) : Json();
    if (a.is_null() || !sampling::JsonSchema::compile(a, "tool_choice").ok()) a = alternative({{"type", "object"}});
    alternatives.push_back(std::move(a));
  }
  const Json call = {{"anyOf", alternatives}};
  auto schema = sampling::JsonSchema::compile(call, "tool_choice");
  if (!schema.ok()) bad_request(schema.status().message(), "tool_choice");
  r->json_schema = schema.value();
}

// Thinking: `reasoning_effort` ("none" turns it off; a level turns it on),
// also as `reasoning: {"effort"}`, and llama.cpp's / vLLM's
// `chat_template_kwargs`, whose variables reach the Jinja template
// (`enable_thinking: false` turns thinking off, as for Qwen 3).
void apply_reasoning(const Json& body, runtime::GenerateRequest* r) {
  std::optional<std::string> effort = opt_string(body, "reasoning_effort");
  std::string where = "reasoning_effort";
  if (body.contains("reasoning") && !body["reasoning"].is_null()) {
    if (!body["reasoning"].is_object()) bad_request("reasoning must be an object", "reasoning");
    if (auto e = opt_string(body["reasoning"], "effort", "reasoning")) effort = e, where = "reasoning.effort";
  }
  if (effort && !effort->empty()) {
    const std::string& e = *effort;
    if (e == "none") {
      r->think = false;
    } else if (e == "minimal" || e == "low" || e == "medium" || e == "high" || e == "xhigh") {
      r->think = true;
      r->think_level = e == "minimal" ? "low" : e == "xhigh" ? "high" : e;
    } else {
      bad_request(where + " must be none, minimal, low, medium, high or xhigh, not '" + e.substr(0, 40) + "'", where);
    }
  }
  if (body.contains("chat_template_kwargs") && !body["chat_template_kwargs"].is_null()) {
    const Json& kw = body["chat_template_kwargs"];
    if (!kw.is_object()) bad_request("chat_template_kwargs must be an object", "chat_template_kwargs");
    for (const auto& [k, v] : kw.items()) {
      if (k == "messages" || k == "tools" || k == "add_generation_prompt" || k == "bos_token" || k == "eos_token")
        bad_request("chat_template_kwargs." + k + " is set by the server", "chat_template_kwargs");
      if (k == "enable_thinking") {
        if (!v.is_boolean()) bad_request("chat_template_kwargs.enable_thinking must be a boolean", "chat_template_kwargs");
        r->think = v.get<bool>();
      }
    }
    r->template_kwargs = kw;
  }
}

}  // namespace

Result<int64_t> count_prompt_tokens(Api& api, runtime::GenerateRequest r) {
  r.count_only = true;
  HEARTH_ASSIGN_OR_RETURN(auto stream, api.engine().submit(std::move(r)));
  for (;;) {
    Event ev;
    if (!stream->next(&ev, std::chrono::milliseconds(100))) continue;
    if (ev.kind == Event::Kind::kError) return ev.error;
    if (ev.kind == Event::Kind::kDone) return ev.usage.prompt_tokens;
  }
}

ParsedChat parse_chat_request(Api& api, const Json& body) {
  ParsedChat p;
  parse_common(api, body, &p, true);
  if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty())
    bad_request("messages must be a non-empty array", "messages");
  Json msgs = Json::array();
  for (size_t i = 0; i < body["messages"].size(); ++i) {
    const auto& m = body["messages"][i];
    const std::string path = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) bad_request(path + " must be an object", path);
    std::string role = req_string(m, "role", path);
    if (role != "system" && role != "user" && role != "assistant" && role != "tool" && role != "developer")
      bad_request(path + ".role must be one of system, user, assistant, tool, developer", path + ".role");
    if (role == "developer") role = "system";
    Json out = {{"role", role}};
    out["content"] = content_text(m.contains("content") ? m["content"] : Json(), path + ".content", {"text"});
    for (const char* k : {"tool_calls", "name", "tool_call_id"})
      if (m.contains(k)) out[k] = m[k];
    // An earlier reply's reasoning (as this server returns it), for templates that show it.
    for (const char* k : {"reasoning_content", "reasoning"})
      if (auto t = opt_string(m, k, path); t && !t->empty() && !out.contains("reasoning_content")) out["reasoning_content"] = *t;
    if (out.contains("tool_calls") && !out["tool_calls"].is_null()) {
      if (!out["tool_calls"].is_array()) bad_request(path + ".tool_calls must be an array", path + ".tool_calls");
      // OpenAI sends arguments as a string of JSON; chat templates render
      // them with `tojson`, as the object they stand for.
      for (Json& call : out["tool_calls"])
        if (call.is_object() && call.contains("function") && call["function"].is_object() &&
            call["function"].contains("arguments") && call["function"]["arguments"].is_string()) {
          Json args = core::parse_json_bounded<Json>(call["function"]["arguments"].get<std::string>());
          if (args.is_object()) call["function"]["arguments"] = std::move(args);
        }
    }
    msgs.push_back(out);
  }
  p.req.messages = msgs;
  if (body.contains("tools") && !body["tools"].is_null()) {
    if (!body["tools"].is_array()) bad_request("tools must be an array", "tools");
    p.req.tools = body["tools"];
  }
  if (body.contains("tool_choice") && !body["tool_choice"].is_null()) apply_tool_choice(body["tool_choice"], &p.req);
  apply_reasoning(body, &p.req);
  return p;
}

namespace {

void chat_completions(Api& api, const HttpRequest& req, Responder& res) {
  serve(api, req, res, parse_chat_request(api, parse_object(req.body)), true);
}

void completions(Api& api, const HttpRequest& req, Responder& res) {
  Json body = parse_object(req.body);
  ParsedChat p;
  parse_common(api, body, &p, false);
  if (!body.contains("prompt")) bad_request("prompt is required", "prompt");
  // The prompt is used as is, unless a suffix asks the template to place both.
  p.req.suffix = opt_string(body, "suffix").value_or("");
  p.req.raw = p.req.suffix.empty();
  p.req.think = false;  // a completion has no place for reasoning: the text is the reply
  const bool echo = opt_bool(body, "echo").value_or(false);
  // prompt: a string, token ids, or a batch of either (a choice per prompt and n).
  const Json& prompt = body["prompt"];
  auto token_ids = [&](const Json& a, const std::string& path) {
    std::vector<int32_t> ids;
    for (const auto& t : a) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX)
        bad_request(path + " must hold token ids (non-negative integers)", "prompt");
      ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
    }
    if (ids.empty()) bad_request(path + " is empty", "prompt");
    if (!p.req.suffix.empty()) bad_request("suffix needs a text prompt", "suffix");
    if (echo) bad_request("echo is not supported with token-id prompts", "echo");
    return ids;
  };
  std::vector<std::string> echoes;
  auto add = [&](const Json& one, const std::string& path) {
    runtime::GenerateRequest r = p.req;
    if (one.is_string()) {
      r.prompt = one.get<std::string>();
    } else if (one.is_array()) {
      r.context = token_ids(one, path);  // the tokens as they are (no BOS added)
    } else {
      bad_request(path + " must be a string or an array of token ids", "prompt");
    }
    echoes.push_back(echo ? r.prompt : "");
    p.batch.push_back(std::move(r));
  };
  if (prompt.is_string() || (prompt.is_array() && !prompt.empty() && prompt[0].is_number())) {
    add(prompt, "prompt");
  } else if (prompt.is_array() && !prompt.empty()) {
    for (size_t i = 0; i < prompt.size(); ++i) add(prompt[i], "prompt[" + std::to_string(i) + "]");
  } else {
    bad_request("prompt must be a string, token ids, or a non-empty array of either", "prompt");
  }
  if (p.batch.size() * static_cast<size_t>(p.n) > 64)
    bad_request("prompts x n is " + std::to_string(p.batch.size() * static_cast<size_t>(p.n)) + "; at most 64 choices per request", "prompt");
  serve(api, req, res, std::move(p), false, std::move(echoes));
}

void models(Api& api, const HttpRequest&, Responder& res) {
  Json data = Json::array();
  for (const auto& m : api.engine().list_models())
    data.push_back({{"id", m.name}, {"object", "model"}, {"created", unix_now()}, {"owned_by", "hearth"}});
  res.send(200, "application/json", dump({{"object", "list"}, {"data", data}}));
}

// GET /v1/models/{model}: one model, or 404 model_not_found.
void model(Api& api, const HttpRequest& req, Responder& res) {
  const std::string name = req.path.substr(std::string("/v1/models/").size());
  auto info = api.engine().find_model(name);
  if (!info.ok()) {
    if (info.status().code() != StatusCode::kNotFound && info.status().code() != StatusCode::kInvalidArgument)
      return send_openai_error(res, http_status_for(info.status()), info.status().message());
    return send_openai_error(res, 404, "The model '" + name.substr(0, 200) + "' does not exist", "model", "model_not_found");
  }
  res.send(200, "application/json", dump({{"id", name}, {"object", "model"}, {"created", unix_now()}, {"owned_by", "hearth"}}));
}

}  // namespace

void register_openai(std::map<std::pair<std::string, std::string>, std::function<void(Api&, const HttpRequest&, Responder&)>>& r) {
  r[{"GET", "/v1/models"}] = models;
  r[{"GET", "/v1/models/"}] = model;
  r[{"POST", "/v1/chat/completions"}] = chat_completions;
  r[{"POST", "/v1/completions"}] = completions;
  r[{"POST", "/v1/responses"}] = responses;
  r[{"POST", "/v1/responses/input_tokens"}] = responses_input_tokens;
}

}  // namespace hearth::server
