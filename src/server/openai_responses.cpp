// OpenAI Responses API: POST /v1/responses, stateless (as Ollama serves
// it). The request is translated to a chat completion request (input items
// to messages, function tools, text.format to response_format, reasoning),
// checked by the same parser, run on the same engine path, and answered as a
// response object: output items `reasoning` (a thinking model's reasoning),
// `message` (output_text) and `function_call`; streamed as typed SSE events
// (response.created ... response.output_text.delta ... response.completed).
#include <cmath>
#include <map>
#include <optional>
#include <utility>

#include "server/api.h"
#include "server/openai_common.h"

namespace hearth::server {

namespace {

using runtime::Event;

// Text parts as Responses input carries them (input, output, reasoning).
std::string parts_text(const Json& content, const std::string& path) {
  return content_text(content, path, {"input_text", "output_text", "text", "reasoning_text", "summary_text"});
}

// Input items to chat messages: messages by role; function_call items become
// an assistant turn's tool_calls, function_call_output items tool messages;
// a reasoning item goes with the assistant turn after it.
Json input_messages(const Json& body) {
  Json msgs = Json::array();
  if (auto ins = opt_string(body, "instructions"); ins && !ins->empty())
    msgs.push_back({{"role", "system"}, {"content", *ins}});
  if (!body.contains("input") || body["input"].is_null()) bad_request("input is required", "input");
  const Json& input = body["input"];
  if (input.is_string()) {
    msgs.push_back({{"role", "user"}, {"content", input}});
    return msgs;
  }
  if (!input.is_array() || input.empty()) bad_request("input must be a string or a non-empty array of items", "input");
  std::string reasoning;                // waiting for its assistant turn
  std::map<std::string, std::string> call_names;  // call_id -> function name
  bool last_is_calls = false;           // the last message holds function calls
  for (size_t i = 0; i < input.size(); ++i) {
    const Json& item = input[i];
    const std::string path = "input[" + std::to_string(i) + "]";
    if (!item.is_object()) bad_request(path + " must be an object", path);
    const std::string type = opt_string(item, "type", path).value_or(item.contains("role") ? "message" : "");
    if (type == "message") {
      std::string role = req_string(item, "role", path);
      if (role == "developer") role = "system";
      if (role != "system" && role != "user" && role != "assistant")
        bad_request(path + ".role must be one of user, assistant, system, developer", path + ".role");
      Json m = {{"role", role}, {"content", parts_text(item.contains("content") ? item["content"] : Json(), path + ".content")}};
      if (role == "assistant" && !reasoning.empty()) m["reasoning_content"] = std::exchange(reasoning, "");
      msgs.push_back(std::move(m));
      last_is_calls = false;
    } else if (type == "function_call") {
      const std::string call_id = req_string(item, "call_id", path), name = req_string(item, "name", path);
      const std::string args = opt_string(item, "arguments", path).value_or("{}");
      call_names[call_id] = name;
      Json call = {{"id", call_id}, {"type", "function"}, {"function", {{"name", name}, {"arguments", args}}}};
      if (!last_is_calls) {
        Json m = {{"role", "assistant"}, {"content", ""}, {"tool_calls", Json::array()}};
        if (!reasoning.empty()) m["reasoning_content"] = std::exchange(reasoning, "");
        msgs.push_back(std::move(m));
        last_is_calls = true;
      }
      msgs.back()["tool_calls"].push_back(std::move(call));
    } else if (type == "function_call_output") {
      const std::string call_id = req_string(item, "call_id", path);
      Json m = {{"role", "tool"}, {"tool_call_id", call_id},
                {"content", parts_text(item.contains("output") ? item["output"] : Json(), path + ".output")}};
      if (auto it = call_names.find(call_id); it != call_names.end()) m["name"] = it->second;
      msgs.push_back(std::move(m));
      last_is_calls = false;
    } else if (type == "reasoning") {
      // Open-weight models' reasoning text in `content`, else the summary.
      const Json& c = item.contains("content") && item["content"].is_array() && !item["content"].empty() ? item["content"]
                      : item.contains("summary") ? item["summary"] : Json();
      reasoning += parts_text(c, path + (item.contains("content") ? ".content" : ".summary"));
    } else {
      bad_request(path + ".type '" + type.substr(0, 40) +
                      "' is not supported (message, function_call, function_call_output, reasoning; this server keeps no state)",
                  path + ".type");
    }
  }
  return msgs;
}

// The Responses request as a chat completion request.
Json chat_body(const Json& body) {
  for (const char* k : {"previous_response_id", "conversation"})
    if (body.contains(k) && !body[k].is_null())
      bad_request(std::string(k) + ": this server does not store responses; send the whole conversation in input", k);
  if (opt_bool(body, "background").value_or(false)) bad_request("background responses are not supported", "background");
  if (body.contains("top_logprobs") && !body["top_logprobs"].is_null())
    bad_request("top_logprobs is not supported on /v1/responses (use /v1/chat/completions)", "top_logprobs");
  Json cb = {{"messages", input_messages(body)}};
  // Same names on both APIs (and the local servers' extensions).
  for (const char* k : {"model", "stream", "temperature", "top_p", "reasoning", "seed", "stop", "presence_penalty",
                        "frequency_penalty", "logit_bias", "chat_template_kwargs", "top_k", "min_p", "typical_p", "tfs_z",
                        "repeat_penalty", "repeat_last_n", "mirostat", "mirostat_tau", "mirostat_eta", "num_ctx"})
    if (body.contains(k)) cb[k] = body[k];
  if (auto n = opt_int(body, "max_output_tokens", 1, 1 << 24)) cb["max_completion_tokens"] = *n;
  if (body.contains("tools") && !body["tools"].is_null()) {
    if (!body["tools"].is_array()) bad_request("tools must be an array", "tools");
    Json tools = Json::array();
    for (size_t i = 0; i < body["tools"].size(); ++i) {
      const Json& t = body["tools"][i];
      const std::string path = "tools[" + std::to_string(i) + "]";
      if (!t.is_object()) bad_request(path + " must be an object", path);
      const std::string type = opt_string(t, "type", path).value_or("");
      if (type != "function")
        bad_request(path + ".type '" + type.substr(0, 40) + "' is not supported (function tools only)", path + ".type");
      Json f = {{"name", req_string(t, "name", path)}};
      for (const char* k : {"description", "parameters"})
        if (t.contains(k) && !t[k].is_null()) f[k] = t[k];
      tools.push_back({{"type", "function"}, {"function", std::move(f)}});
    }
    cb["tools"] = std::move(tools);
  }
  if (body.contains("tool_choice") && !body["tool_choice"].is_null()) {
    const Json& c = body["tool_choice"];
    if (c.is_object() && c.value("type", "") == "function" && c.contains("name"))
      cb["tool_choice"] = {{"type", "function"}, {"function", {{"name", c["name"]}}}};
    else
      cb["tool_choice"] = c;
  }
  if (body.contains("text") && body["text"].is_object() && body["text"].contains("format") && !body["text"]["format"].is_null()) {
    const Json& f = body["text"]["format"];
    if (!f.is_object()) bad_request("text.format must be an object", "text.format");
    const std::string type = opt_string(f, "type", "text.format").value_or("text");
    if (type == "json_schema") {
      if (!f.contains("schema")) bad_request("text.format.schema is required", "text.format");
      cb["response_format"] = {{"type", "json_schema"}, {"json_schema", {{"name", f.value("name", "response")}, {"schema", f["schema"]}}}};
    } else if (type == "json_object") {
      cb["response_format"] = {{"type", "json_object"}};
    } else if (type != "text") {
      bad_request("text.format.type must be text, json_object or json_schema, not '" + type.substr(0, 40) + "'", "text.format");
    }
  }
  return cb;
}

// A response being built (and streamed): its output items in order.
class ResponseWriter {
 public:
  ResponseWriter(Responder& res, bool stream, Json base) : res_(res), stream_(stream), response_(std::move(base)) {}

  bool start() {
    if (!stream_) return true;
    if (!res_.begin_stream(200, "text/event-stream")) return false;
    emit("response.created", {{"response", response_}});
    return emit("response.in_progress", {{"response", response_}});
  }

  bool reasoning(const std::string& text) {
    if (message_open_ || reasoning_done_) {  // (after the answer began: kept, not streamed)
      reasoning_text_ += text;
      return true;
    }
    if (!reasoning_open_) {
      reasoning_open_ = true;
      reasoning_id_ = make_id("rs", '_');
      reasoning_index_ = next_index_++;
      emit("response.output_item.added", {{"output_index", reasoning_index_}, {"item", reasoning_item(false)}});
      emit("response.content_part.added", {{"item_id", reasoning_id_}, {"output_index", reasoning_index_},
                                           {"content_index", 0}, {"part", {{"type", "reasoning_text"}, {"text", ""}}}});
    }
    reasoning_text_ += text;
    return emit("response.reasoning_text.delta",
                {{"item_id", reasoning_id_}, {"output_index", reasoning_index_}, {"content_index", 0}, {"delta", text}});
  }

  bool text(const std::string& text) {
    close_reasoning();
    if (!message_open_) {
      message_open_ = true;
      message_id_ = make_id("msg", '_');
      message_index_ = next_index_++;
      emit("response.output_item.added", {{"output_index", message_index_}, {"item", message_item("in_progress")}});
      emit("response.content_part.added", {{"item_id", message_id_}, {"output_index", message_index_}, {"content_index", 0},
                                           {"part", output_text("")}});
    }
    text_ += text;
    return emit("response.output_text.delta", {{"item_id", message_id_}, {"output_index", message_index_},
                                               {"content_index", 0}, {"delta", text}, {"logprobs", Json::array()}});
  }

  void finish(const Event& ev, int64_t reasoning_tokens) {
    close_reasoning();
    if (message_open_) {
      emit("response.output_text.done", {{"item_id", message_id_}, {"output_index", message_index_}, {"content_index", 0},
                                         {"text", text_}, {"logprobs", Json::array()}});
      emit("response.content_part.done", {{"item_id", message_id_}, {"output_index", message_index_},
                                          {"content_index", 0}, {"part", output_text(text_)}});
      done_item(message_index_, message_item("completed"));
    }
    for (const chat::ToolCall& call : ev.tool_calls) {
      const int index = next_index_++;
      Json item = {{"id", make_id("fc", '_')}, {"type", "function_call"}, {"status", "in_progress"}, {"arguments", ""},
                   {"call_id", make_id("call", '_')}, {"name", call.name}};
      const std::string args = call.arguments.dump();
      emit("response.output_item.added", {{"output_index", index}, {"item", item}});
      emit("response.function_call_arguments.delta", {{"item_id", item["id"]}, {"output_index", index}, {"delta", args}});
      emit("response.function_call_arguments.done", {{"item_id", item["id"]}, {"output_index", index}, {"arguments", args}});
      item["arguments"] = args;
      item["status"] = "completed";
      done_item(index, std::move(item));
    }
    const bool cut = ev.finish == sampling::FinishReason::kLength;
    response_["status"] = cut ? "incomplete" : "completed";
    if (cut) response_["incomplete_details"] = {{"reason", "max_output_tokens"}};
    response_["output"] = output_;
    response_["usage"] = {{"input_tokens", ev.usage.prompt_tokens},
                          {"input_tokens_details", {{"cached_tokens", ev.usage.cached_tokens}}},
                          {"output_tokens", ev.usage.completion_tokens},
                          {"output_tokens_details", {{"reasoning_tokens", reasoning_tokens}}},
                          {"total_tokens", ev.usage.prompt_tokens + ev.usage.completion_tokens}};
    if (stream_) {
      emit(cut ? "response.incomplete" : "response.completed", {{"response", response_}});
      res_.end_stream();
    } else {
      res_.send(200, "application/json", dump(response_));
    }
  }

  void fail(const Status& error) {
    if (!res_.started()) return send_openai_error(res_, http_status_for(error), error.message());
    response_["status"] = "failed";
    response_["error"] = {{"code", "server_error"}, {"message", error.message()}};
    response_["output"] = output_;
    emit("response.failed", {{"response", response_}});
    res_.end_stream();
  }

 private:
  bool emit(const std::string& type, Json fields) {
    if (!stream_) return true;
    fields["type"] = type;
    fields["sequence_number"] = seq_++;
    return res_.write_chunk("event: " + type + "\ndata: " + dump(fields) + "\n\n");
  }
  static Json output_text(const std::string& text) {
    return {{"type", "output_text"}, {"text", text}, {"annotations", Json::array()}, {"logprobs", Json::array()}};
  }
  Json reasoning_item(bool whole) const {
    Json content = Json::array();
    if (whole) content.push_back({{"type", "reasoning_text"}, {"text", reasoning_text_}});
    return {{"id", reasoning_id_}, {"type", "reasoning"}, {"summary", Json::array()}, {"content", content}};
  }
  Json message_item(const char* status) const {
    Json content = Json::array();
    if (std::string(status) == "completed") content.push_back(output_text(text_));
    return {{"id", message_id_}, {"type", "message"}, {"status", status}, {"role", "assistant"}, {"content", content}};
  }
  void close_reasoning() {
    if (!reasoning_open_ && (reasoning_text_.empty() || reasoning_done_)) return;
    if (!reasoning_open_) {  // reasoning that came after the answer began (not streamed): an item of its own
      reasoning_id_ = make_id("rs", '_');
      reasoning_index_ = next_index_++;
    } else {
      emit("response.reasoning_text.done",
           {{"item_id", reasoning_id_}, {"output_index", reasoning_index_}, {"content_index", 0}, {"text", reasoning_text_}});
      emit("response.content_part.done", {{"item_id", reasoning_id_}, {"output_index", reasoning_index_}, {"content_index", 0},
                                          {"part", {{"type", "reasoning_text"}, {"text", reasoning_text_}}}});
    }
    reasoning_open_ = false;
    reasoning_done_ = true;
    done_item(reasoning_index_, reasoning_item(true));
  }
  void done_item(int index, Json item) {
    emit("response.output_item.done", {{"output_index", index}, {"item", item}});
    output_.push_back(std::move(item));
  }

  Responder& res_;
  bool stream_;
  Json response_;
  Json output_ = Json::array();
  int seq_ = 0, next_index_ = 0;
  bool reasoning_open_ = false, reasoning_done_ = false, message_open_ = false;
  std::string reasoning_id_, message_id_, reasoning_text_, text_;
  int reasoning_index_ = 0, message_index_ = 0;
};

// A float setting as the client wrote it (0.9, not 0.8999999761581421).
double rounded(float x) { return std::round(static_cast<double>(x) * 1e6) / 1e6; }

}  // namespace

void responses_input_tokens(Api& api, const HttpRequest& req, Responder& res) {
  ParsedChat p = parse_chat_request(api, chat_body(parse_object(req.body)));
  auto n = count_prompt_tokens(api, std::move(p.req));
  if (!n.ok()) return send_openai_error(res, http_status_for(n.status()), n.status().message());
  res.send(200, "application/json", dump({{"object", "response.input_tokens"}, {"input_tokens", n.value()}}));
}

void responses(Api& api, const HttpRequest& req, Responder& res) {
  Json body = parse_object(req.body);
  ParsedChat p = parse_chat_request(api, chat_body(body));
  const runtime::GenerateRequest& r = p.req;
  // The response object echoes the settings it ran with.
  Json base = {{"id", make_id("resp", '_')}, {"object", "response"}, {"created_at", unix_now()}, {"status", "in_progress"},
               {"error", nullptr}, {"incomplete_details", nullptr},
               {"instructions", body.contains("instructions") ? body["instructions"] : Json()},
               {"max_output_tokens", r.num_predict >= 0 ? Json(r.num_predict) : Json()}, {"model", r.model},
               {"output", Json::array()}, {"parallel_tool_calls", true}, {"previous_response_id", nullptr},
               {"reasoning", {{"effort", r.think_level.empty() ? Json() : Json(r.think_level)}, {"summary", nullptr}}},
               {"store", false}, {"temperature", rounded(r.sampling.temperature)},
               {"text", body.contains("text") && body["text"].is_object() ? body["text"] : Json{{"format", {{"type", "text"}}}}},
               {"tool_choice", body.contains("tool_choice") ? body["tool_choice"] : Json("auto")},
               {"tools", body.contains("tools") && body["tools"].is_array() ? body["tools"] : Json::array()},
               {"top_p", rounded(r.sampling.top_p)}, {"truncation", "disabled"}, {"usage", nullptr}, {"user", nullptr},
               {"metadata", body.contains("metadata") && body["metadata"].is_object() ? body["metadata"] : Json::object()}};
  auto submitted = api.engine().submit(p.req);
  if (!submitted.ok())
    return send_openai_error(res, http_status_for(submitted.status()), submitted.status().message(),
                             submitted.status().code() == StatusCode::kNotFound ? "model" : "");
  ResponseWriter out(res, p.stream, std::move(base));
  int64_t reasoning_tokens = 0;
  bool started = false;
  api.pump(*submitted.value(), res, [&](Event& ev) {
    if (ev.kind == Event::Kind::kError) {
      out.fail(ev.error);
      return false;
    }
    if (!started) {  // (after the model loaded and the prompt was accepted: errors before this are plain 4xx)
      started = true;
      if (!out.start()) return false;
    }
    if (ev.kind == Event::Kind::kDone) {
      out.finish(ev, reasoning_tokens);
      return false;
    }
    if (!ev.thinking.empty()) {
      ++reasoning_tokens;
      if (!out.reasoning(ev.thinking)) return false;
    }
    if (!ev.text.empty() && !out.text(ev.text)) return false;
    return true;
  });
}

}  // namespace hearth::server
