// Anthropic Messages API: POST /v1/messages (what Ollama serves for clients
// built on Anthropic's SDK). The request is translated to a chat completion
// request (system, messages with text / tool_use / tool_result / thinking
// blocks, tools with input_schema, tool_choice, thinking, stop_sequences),
// checked by the same parser and run on the same engine path; the answer is
// a message with thinking, text and tool_use content blocks, streamed as
// message_start / content_block_* / message_delta / message_stop events.
#include <string>
#include <vector>

#include "server/api.h"
#include "server/openai_common.h"

namespace hearth::server {

namespace {

using runtime::Event;

// Messages to chat messages: a user turn's tool_result blocks become tool
// messages (before its text), an assistant turn's tool_use blocks its
// tool_calls and its thinking blocks its reasoning.
Json chat_messages(const Json& body) {
  Json msgs = Json::array();
  if (body.contains("system") && !body["system"].is_null()) {
    std::string system = content_text(body["system"], "system", {"text"}, "\n");
    if (!system.empty()) msgs.push_back({{"role", "system"}, {"content", system}});
  }
  if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty())
    bad_request("messages must be a non-empty array", "messages");
  std::map<std::string, std::string> tool_names;  // tool_use id -> name
  for (size_t i = 0; i < body["messages"].size(); ++i) {
    const Json& m = body["messages"][i];
    const std::string path = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) bad_request(path + " must be an object", path);
    const std::string role = req_string(m, "role", path);
    if (role != "user" && role != "assistant") bad_request(path + ".role must be user or assistant", path + ".role");
    const Json content = m.contains("content") ? m["content"] : Json();
    if (content.is_string()) {
      msgs.push_back({{"role", role}, {"content", content}});
      continue;
    }
    if (!content.is_array()) bad_request(path + ".content must be a string or an array of content blocks", path + ".content");
    std::string text, reasoning;
    Json calls = Json::array();
    for (size_t j = 0; j < content.size(); ++j) {
      const Json& b = content[j];
      const std::string bp = path + ".content[" + std::to_string(j) + "]";
      if (!b.is_object()) bad_request(bp + " must be an object", bp);
      const std::string type = opt_string(b, "type", bp).value_or("");
      if (type == "text") {
        if (!text.empty()) text += "\n";
        text += req_string(b, "text", bp);
      } else if (type == "tool_result" && role == "user") {
        const std::string id = req_string(b, "tool_use_id", bp);
        std::string out = content_text(b.contains("content") ? b["content"] : Json(), bp + ".content", {"text"}, "\n");
        if (opt_bool(b, "is_error", bp).value_or(false)) out = "Error: " + out;
        Json tm = {{"role", "tool"}, {"tool_call_id", id}, {"content", out}};
        if (auto it = tool_names.find(id); it != tool_names.end()) tm["name"] = it->second;
        msgs.push_back(std::move(tm));
      } else if (type == "tool_use" && role == "assistant") {
        const std::string id = req_string(b, "id", bp), name = req_string(b, "name", bp);
        const Json input = b.contains("input") && b["input"].is_object() ? b["input"] : Json::object();
        tool_names[id] = name;
        calls.push_back({{"id", id}, {"type", "function"}, {"function", {{"name", name}, {"arguments", input.dump()}}}});
      } else if (type == "thinking" && role == "assistant") {
        reasoning += opt_string(b, "thinking", bp).value_or("");
      } else if (type == "redacted_thinking" && role == "assistant") {
        // (opaque to this server: nothing to show the template)
      } else {
        bad_request(bp + ": blocks of type '" + type.substr(0, 40) + "' are not supported in " + role + " messages", bp);
      }
    }
    if (role == "user" && text.empty()) continue;  // only tool results
    Json out = {{"role", role}, {"content", text}};
    if (!calls.empty()) out["tool_calls"] = std::move(calls);
    if (!reasoning.empty()) out["reasoning_content"] = reasoning;
    msgs.push_back(std::move(out));
  }
  return msgs;
}

// `counting`: for count_tokens, where max_tokens is not asked for.
Json chat_body(const Json& body, bool counting = false) {
  Json cb = {{"messages", chat_messages(body)}};
  for (const char* k : {"model", "stream", "temperature", "top_p", "top_k"})
    if (body.contains(k)) cb[k] = body[k];
  if ((!body.contains("max_tokens") || body["max_tokens"].is_null()) && !counting)
    bad_request("max_tokens is required", "max_tokens");
  if (auto n = opt_int(body, "max_tokens", 1, 1 << 24)) cb["max_completion_tokens"] = *n;
  if (body.contains("stop_sequences") && !body["stop_sequences"].is_null()) cb["stop"] = body["stop_sequences"];
  if (body.contains("tools") && !body["tools"].is_null()) {
    if (!body["tools"].is_array()) bad_request("tools must be an array", "tools");
    Json tools = Json::array();
    for (size_t i = 0; i < body["tools"].size(); ++i) {
      const Json& t = body["tools"][i];
      const std::string path = "tools[" + std::to_string(i) + "]";
      if (!t.is_object()) bad_request(path + " must be an object", path);
      if (auto type = opt_string(t, "type", path); type && *type != "custom")
        bad_request(path + ": server tools ('" + type->substr(0, 40) + "') are not supported; give name and input_schema", path);
      Json f = {{"name", req_string(t, "name", path)}};
      if (t.contains("description")) f["description"] = t["description"];
      if (t.contains("input_schema")) f["parameters"] = t["input_schema"];
      tools.push_back({{"type", "function"}, {"function", std::move(f)}});
    }
    cb["tools"] = std::move(tools);
  }
  if (body.contains("tool_choice") && !body["tool_choice"].is_null()) {
    const Json& c = body["tool_choice"];
    const std::string type = c.is_object() ? opt_string(c, "type", "tool_choice").value_or("") : "";
    if (type == "auto" || type == "none") cb["tool_choice"] = type;
    else if (type == "any") cb["tool_choice"] = "required";
    else if (type == "tool") cb["tool_choice"] = {{"type", "function"}, {"function", {{"name", req_string(c, "name", "tool_choice")}}}};
    else bad_request("tool_choice.type must be auto, any, tool or none", "tool_choice");
  }
  if (body.contains("thinking") && !body["thinking"].is_null()) {
    const Json& t = body["thinking"];
    const std::string type = t.is_object() ? opt_string(t, "type", "thinking").value_or("") : "";
    if (type != "enabled" && type != "disabled") bad_request("thinking.type must be enabled or disabled", "thinking");
    cb["chat_template_kwargs"] = {{"enable_thinking", type == "enabled"}};
  }
  return cb;
}

// A message being built (and streamed): its content blocks in order.
class MessageWriter {
 public:
  MessageWriter(Responder& res, bool stream, std::string model) : res_(res), stream_(stream), model_(std::move(model)) {}

  bool start() {
    if (!stream_) return true;
    if (!res_.begin_stream(200, "text/event-stream")) return false;
    emit("message_start", {{"message", message(Json::array(), nullptr, nullptr, 0, 0)}});
    return emit("ping", Json::object());
  }
  bool thinking(const std::string& t) {
    if (open_ != Block::kThinking) {
      if (open_ != Block::kNone) return true;  // (reasoning after the answer began: not a block of its own)
      open_block(Block::kThinking, {{"type", "thinking"}, {"thinking", ""}, {"signature", ""}});
    }
    thinking_ += t;
    return emit("content_block_delta", {{"index", index_}, {"delta", {{"type", "thinking_delta"}, {"thinking", t}}}});
  }
  bool text(const std::string& t) {
    if (open_ != Block::kText) open_block(Block::kText, {{"type", "text"}, {"text", ""}});
    text_ += t;
    return emit("content_block_delta", {{"index", index_}, {"delta", {{"type", "text_delta"}, {"text", t}}}});
  }
  void finish(const Event& ev, const std::string& stop_sequence) {
    close_block();
    for (const chat::ToolCall& call : ev.tool_calls) {
      Json block = {{"type", "tool_use"}, {"id", make_id("toolu", '_')}, {"name", call.name}, {"input", Json::object()}};
      open_block(Block::kTool, block);
      emit("content_block_delta", {{"index", index_}, {"delta", {{"type", "input_json_delta"}, {"partial_json", call.arguments.dump()}}}});
      block["input"] = call.arguments;
      close_block();
      content_.push_back(std::move(block));
    }
    const char* reason = !ev.tool_calls.empty() ? "tool_use"
                         : ev.finish == sampling::FinishReason::kLength ? "max_tokens"
                         : !stop_sequence.empty() ? "stop_sequence" : "end_turn";
    const Json seq = stop_sequence.empty() ? Json() : Json(stop_sequence);
    if (stream_) {
      emit("message_delta", {{"delta", {{"stop_reason", reason}, {"stop_sequence", seq}}},
                             {"usage", {{"input_tokens", ev.usage.prompt_tokens}, {"output_tokens", ev.usage.completion_tokens},
                                        {"cache_read_input_tokens", ev.usage.cached_tokens}}}});
      emit("message_stop", Json::object());
      res_.end_stream();
    } else {
      res_.send(200, "application/json",
                dump(message(content_, reason, seq, ev.usage.prompt_tokens, ev.usage.completion_tokens, ev.usage.cached_tokens)));
    }
  }
  void fail(const Status& error) {
    if (!res_.started()) return send_anthropic_error(res_, http_status_for(error), error.message());
    emit("error", {{"error", {{"type", "api_error"}, {"message", error.message()}}}});
    res_.end_stream();
  }

 private:
  enum class Block { kNone, kThinking, kText, kTool };
  bool emit(const char* type, Json fields) {
    if (!stream_) return true;
    fields["type"] = type;
    return res_.write_chunk(std::string("event: ") + type + "\ndata: " + dump(fields) + "\n\n");
  }
  Json message(Json content, Json stop_reason, Json stop_sequence, int64_t in, int64_t out, int64_t cached = 0) const {
    return {{"id", id_}, {"type", "message"}, {"role", "assistant"}, {"model", model_}, {"content", std::move(content)},
            {"stop_reason", std::move(stop_reason)}, {"stop_sequence", std::move(stop_sequence)},
            {"usage", {{"input_tokens", in}, {"output_tokens", out}, {"cache_read_input_tokens", cached},
                       {"cache_creation_input_tokens", 0}}}};
  }
  void open_block(Block kind, const Json& block) {
    close_block();
    open_ = kind;
    ++index_;
    emit("content_block_start", {{"index", index_}, {"content_block", block}});
  }
  void close_block() {
    if (open_ == Block::kNone) return;
    if (open_ == Block::kThinking) content_.push_back({{"type", "thinking"}, {"thinking", thinking_}, {"signature", ""}});
    if (open_ == Block::kText) content_.push_back({{"type", "text"}, {"text", text_}});
    emit("content_block_stop", {{"index", index_}});
    open_ = Block::kNone;
  }

  Responder& res_;
  bool stream_;
  std::string model_, id_ = make_id("msg", '_');
  Json content_ = Json::array();
  Block open_ = Block::kNone;
  int index_ = -1;
  std::string thinking_, text_;
};

void messages(Api& api, const HttpRequest& req, Responder& res) {
  Json body = parse_object(req.body);
  ParsedChat p = parse_chat_request(api, chat_body(body));
  auto submitted = api.engine().submit(p.req);
  if (!submitted.ok()) return send_anthropic_error(res, http_status_for(submitted.status()), submitted.status().message());
  MessageWriter out(res, p.stream, p.req.model);
  bool started = false;
  api.pump(*submitted.value(), res, [&](Event& ev) {
    if (ev.kind == Event::Kind::kError) {
      out.fail(ev.error);
      return false;
    }
    if (!started) {
      started = true;
      if (!out.start()) return false;
    }
    if (ev.kind == Event::Kind::kDone) {
      out.finish(ev, ev.stop_sequence);
      return false;
    }
    if (!ev.thinking.empty() && !out.thinking(ev.thinking)) return false;
    if (!ev.text.empty() && !out.text(ev.text)) return false;
    return true;
  });
}

// POST /v1/messages/count_tokens: {"input_tokens"}.
void count_tokens(Api& api, const HttpRequest& req, Responder& res) {
  ParsedChat p = parse_chat_request(api, chat_body(parse_object(req.body), true));
  auto n = count_prompt_tokens(api, std::move(p.req));
  if (!n.ok()) return send_anthropic_error(res, http_status_for(n.status()), n.status().message());
  res.send(200, "application/json", dump({{"input_tokens", n.value()}}));
}

}  // namespace

void send_anthropic_error(Responder& res, int status, const std::string& message) {
  const char* type = status == 400 ? "invalid_request_error" : status == 401 ? "authentication_error"
                     : status == 404 ? "not_found_error" : status == 413 ? "request_too_large"
                     : status == 503 ? "overloaded_error" : "api_error";
  std::map<std::string, std::string> h;
  if (status == 503) h["Retry-After"] = "1";
  res.send(status, "application/json", dump({{"type", "error"}, {"error", {{"type", type}, {"message", message}}}}), h);
}

void register_anthropic(std::map<std::pair<std::string, std::string>, std::function<void(Api&, const HttpRequest&, Responder&)>>& r) {
  r[{"POST", "/v1/messages"}] = messages;
  r[{"POST", "/v1/messages/count_tokens"}] = count_tokens;
}

}  // namespace hearth::server
