// Ollama wire format: /api/generate, /api/chat (NDJSON streaming by default),
// /api/tags, /api/show, /api/ps, /api/version.
#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "server/api.h"
#include "server/http_client.h"
#include "server/pull.h"

namespace hearth::server {

namespace {

using runtime::Event;

void common_fields(Api& api, const Json& body, runtime::GenerateRequest* r) {
  r->model = req_string(body, "model");
  GenerationOptions opt;
  // Precedence: request options > Modelfile PARAMETERs > built-in defaults.
  apply_options(api.engine().model_parameters(r->model), &opt, "modelfile");
  if (body.contains("options") && !body["options"].is_null()) apply_options(body["options"], &opt, "options");
  r->sampling = opt.sampling;
  if (opt.num_ctx) r->num_ctx = *opt.num_ctx;
  if (opt.num_predict) r->num_predict = static_cast<int>(*opt.num_predict < 0 ? -1 : *opt.num_predict);
  r->stop = opt.stop;
  r->keep_alive_s = parse_keep_alive(body);
  // think: true / false, or a level (which turns it on); null: the model's default.
  if (body.contains("think") && !body["think"].is_null()) {
    const Json& t = body["think"];
    if (t.is_boolean()) {
      r->think = t.get<bool>();
    } else if (t.is_string() && (t == "low" || t == "medium" || t == "high")) {
      r->think = true;
      r->think_level = t.get<std::string>();
    } else {
      throw HttpError(400, "think must be true, false, \"low\", \"medium\" or \"high\"", "think");
    }
  }
  // logprobs / top_logprobs (0-20): each token's log-probability, and the likeliest alternatives.
  const bool logprobs = opt_bool(body, "logprobs").value_or(false);
  const auto top = opt_int(body, "top_logprobs", 0, 20);
  if (top && *top > 0 && !logprobs) throw HttpError(400, "top_logprobs requires logprobs to be true", "top_logprobs");
  if (logprobs) r->top_logprobs = static_cast<int>(top.value_or(0));
  if (body.contains("format") && !body["format"].is_null()) {
    const Json& f = body["format"];
    if (f.is_object()) {
      auto schema = sampling::JsonSchema::compile(f, "format");
      if (!schema.ok()) throw HttpError(400, schema.status().message(), "format");
      r->json_schema = schema.value();
    } else if (!f.is_string()) {
      throw HttpError(400, "format must be \"json\" or a JSON schema object", "format");
    } else if (const std::string v = f.get<std::string>(); v == "json") {
      r->json_schema = sampling::JsonSchema::any_object();
    } else if (!v.empty()) {
      throw HttpError(400, "format must be \"json\" or a JSON schema object, not \"" + v.substr(0, 40) + "\"", "format");
    }
  }
}

Json bytes_of(const std::string& s) {
  Json b = Json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

// Ollama's shape: {token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}.
Json logprob_json(const runtime::TokenLogprob& t) {
  Json top = Json::array();
  for (const auto& [s, lp] : t.top) top.push_back({{"token", s}, {"logprob", lp}, {"bytes", bytes_of(s)}});
  Json j = {{"token", t.text}, {"logprob", t.logprob}, {"bytes", bytes_of(t.text)}};
  if (!top.empty()) j["top_logprobs"] = std::move(top);
  return j;
}

Json final_stats(const std::string& model, const Event& ev, bool chat) {
  Json j = {{"model", model}, {"created_at", now_rfc3339_nanos()}};
  if (chat) j["message"] = {{"role", "assistant"}, {"content", ""}};
  else j["response"] = "";
  j["done"] = true;
  j["done_reason"] = sampling::finish_reason_name(ev.finish);
  if (!chat && !ev.context.empty()) j["context"] = ev.context;
  j["total_duration"] = ev.timings.total;
  j["load_duration"] = ev.timings.load;
  j["prompt_eval_count"] = ev.usage.prompt_tokens;
  j["prompt_eval_duration"] = ev.timings.prompt_eval;
  j["eval_count"] = ev.usage.completion_tokens;
  j["eval_duration"] = ev.timings.eval;
  return j;
}

// Ollama: a generate request with no prompt (a chat with no messages) loads
// the model and answers once it is loaded, done_reason "load"; with
// keep_alive 0 it unloads the model instead ("unload").
void load_or_unload(Api& api, Responder& res, runtime::GenerateRequest r, bool chat) {
  auto info = api.engine().find_model(r.model);
  if (!info.ok()) return send_ollama_error(res, http_status_for(info.status()), info.status().message());
  const std::string model = r.model;
  auto answer = [&](const char* reason) {
    Json j = {{"model", model}, {"created_at", now_rfc3339_nanos()}};
    if (chat) j["message"] = {{"role", "assistant"}, {"content", ""}};
    else j["response"] = "";
    j["done"] = true;
    j["done_reason"] = reason;
    res.send(200, "application/json", j.dump());
  };
  if (r.keep_alive_s && *r.keep_alive_s == 0) {
    api.engine().unload(model);
    return answer("unload");
  }
  r.load_only = true;
  auto submitted = api.engine().submit(std::move(r));
  if (!submitted.ok()) return send_ollama_error(res, http_status_for(submitted.status()), submitted.status().message());
  api.pump(*submitted.value(), res, [&](Event& ev) {
    if (ev.kind == Event::Kind::kError) send_ollama_error(res, http_status_for(ev.error), ev.error.message());
    else if (ev.kind == Event::Kind::kDone) answer("load");
    return ev.kind == Event::Kind::kToken;  // (a load sends none)
  });
}

void serve_generation(Api& api, Responder& res, runtime::GenerateRequest r, bool stream, bool chat) {
  const std::string model = r.model;
  auto submitted = api.engine().submit(std::move(r));
  if (!submitted.ok()) {
    send_ollama_error(res, http_status_for(submitted.status()), submitted.status().message());
    return;
  }
  auto& st = *submitted.value();
  std::string text, thinking;
  Json logprobs = Json::array();
  api.pump(st, res, [&](Event& ev) {
    if (ev.kind == Event::Kind::kError) {
      if (!res.started()) send_ollama_error(res, http_status_for(ev.error), ev.error.message());
      else res.write_chunk(Json{{"error", ev.error.message()}}.dump() + "\n"), res.end_stream();
      return false;
    }
    if (ev.kind == Event::Kind::kToken) {
      if (!stream) {
        text += ev.text;
        thinking += ev.thinking;
        if (ev.logprob) logprobs.push_back(logprob_json(*ev.logprob));
        return true;
      }
      if (!res.started() && !res.begin_stream(200, "application/x-ndjson")) return false;
      if (ev.text.empty() && ev.thinking.empty() && !ev.logprob) return true;
      Json chunk = {{"model", model}, {"created_at", now_rfc3339_nanos()}};
      if (chat) {
        chunk["message"] = {{"role", "assistant"}, {"content", ev.text}};
        if (!ev.thinking.empty()) chunk["message"]["thinking"] = ev.thinking;
      } else {
        chunk["response"] = ev.text;
        if (!ev.thinking.empty()) chunk["thinking"] = ev.thinking;
      }
      chunk["done"] = false;
      if (ev.logprob) chunk["logprobs"] = Json::array({logprob_json(*ev.logprob)});
      return res.write_chunk(chunk.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    }
    Json last = final_stats(model, ev, chat);
    Json calls;  // Ollama's shape: [{"function": {"name", "arguments": {...}}}]
    if (chat && !ev.tool_calls.empty()) {
      calls = Json::array();
      for (const chat::ToolCall& call : ev.tool_calls)
        calls.push_back({{"function", {{"name", call.name}, {"arguments", call.arguments}}}});
    }
    if (!stream) {
      if (chat) {
        last["message"]["content"] = text;
        if (!thinking.empty()) last["message"]["thinking"] = thinking;
      } else {
        last["response"] = text;
        if (!thinking.empty()) last["thinking"] = thinking;
      }
      if (!calls.is_null()) last["message"]["tool_calls"] = calls;
      if (!logprobs.empty()) last["logprobs"] = logprobs;
      res.send(200, "application/json", last.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
      if (!res.started()) res.begin_stream(200, "application/x-ndjson");
      if (!calls.is_null()) {  // as Ollama streams them: a message of calls, then the end
        Json chunk = {{"model", model}, {"created_at", now_rfc3339_nanos()},
                      {"message", {{"role", "assistant"}, {"content", ""}, {"tool_calls", calls}}}, {"done", false}};
        res.write_chunk(chunk.dump() + "\n");
      }
      res.write_chunk(last.dump() + "\n");
      res.end_stream();
    }
    return false;
  });
}

void generate(Api& api, const HttpRequest& req, Responder& res) {
  Json body = parse_object(req.body);
  runtime::GenerateRequest r;
  common_fields(api, body, &r);
  r.prompt = opt_string(body, "prompt").value_or("");
  r.system = opt_string(body, "system").value_or("");
  r.raw = opt_bool(body, "raw").value_or(false);
  r.template_prompt = true;
  if (auto t = opt_string(body, "template"); t && !t->empty()) {
    auto parsed = store::GoTemplate::parse(*t);
    if (!parsed.ok()) throw HttpError(400, "template: " + parsed.status().message(), "template");
    r.go_template = parsed.value();
  }
  r.suffix = opt_string(body, "suffix").value_or("");
  // context: the token ids a previous response returned (Ollama's deprecated
  // conversation memory); the response returns them grown by this turn.
  if (body.contains("context") && !body["context"].is_null()) {
    const Json& c = body["context"];
    if (!c.is_array()) throw HttpError(400, "context must be an array of token ids", "context");
    for (const auto& id : c) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
        throw HttpError(400, "context must be an array of token ids", "context");
      r.context.push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
    if (r.raw && !r.context.empty()) throw HttpError(400, "raw mode does not support context", "context");
  }
  r.return_context = !r.raw;
  if (body.contains("images") && body["images"].is_array() && !body["images"].empty())
    throw HttpError(400, "images are not supported by this server", "images");
  bool stream = opt_bool(body, "stream").value_or(true);
  if (r.prompt.empty() && r.system.empty()) return load_or_unload(api, res, std::move(r), false);
  serve_generation(api, res, std::move(r), stream, false);
}

void chat(Api& api, const HttpRequest& req, Responder& res) {
  Json body = parse_object(req.body);
  runtime::GenerateRequest r;
  common_fields(api, body, &r);
  if (!body.contains("messages") || !body["messages"].is_array()) throw HttpError(400, "messages must be an array", "messages");
  Json msgs = Json::array();
  for (size_t i = 0; i < body["messages"].size(); ++i) {
    const auto& m = body["messages"][i];
    std::string p = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) throw HttpError(400, p + " must be an object", p);
    std::string role = req_string(m, "role", p);
    Json out = {{"role", role}, {"content", opt_string(m, "content", p).value_or("")}};
    if (m.contains("images") && m["images"].is_array() && !m["images"].empty())
      throw HttpError(400, p + ".images: images are not supported by this server", p + ".images");
    if (m.contains("tool_calls")) out["tool_calls"] = m["tool_calls"];
    if (auto t = opt_string(m, "thinking", p); t && !t->empty()) out["thinking"] = *t;
    if (m.contains("name")) out["name"] = m["name"];
    // Ollama names a tool result's function `tool_name`; Jinja templates read `name`.
    if (auto t = opt_string(m, "tool_name", p); t && !m.contains("name")) out["name"] = *t;
    if (m.contains("tool_call_id")) out["tool_call_id"] = m["tool_call_id"];
    msgs.push_back(out);
  }
  if (msgs.empty()) return load_or_unload(api, res, std::move(r), true);
  r.messages = msgs;
  if (body.contains("tools") && !body["tools"].is_null()) {
    if (!body["tools"].is_array()) throw HttpError(400, "tools must be an array", "tools");
    r.tools = body["tools"];
  }
  serve_generation(api, res, std::move(r), opt_bool(body, "stream").value_or(true), true);
}

// Ollama names always carry a tag.
std::string tagged(const std::string& name) { return name.find(':') == std::string::npos ? name + ":latest" : name; }

Json details(const runtime::ModelFileInfo& i) {
  return {{"parent_model", ""}, {"format", "gguf"}, {"family", i.architecture}, {"families", {i.architecture}},
          {"parameter_size", i.parameter_size}, {"quantization_level", i.quantization}};
}

void tags(Api& api, const HttpRequest&, Responder& res) {
  Json models = Json::array();
  for (const auto& m : api.engine().list_models())
    models.push_back({{"name", tagged(m.name)}, {"model", tagged(m.name)}, {"modified_at", m.modified_at},
                      {"size", m.size}, {"digest", m.digest}, {"details", details(m)}});
  res.send(200, "application/json", Json{{"models", models}}.dump());
}

void show(Api& api, const HttpRequest& req, Responder& res) {
  Json body = parse_object(req.body);
  std::string name = opt_string(body, "model").value_or(opt_string(body, "name").value_or(""));
  if (name.empty()) throw HttpError(400, "model is required", "model");
  auto j = api.engine().show(name);
  if (!j.ok()) return send_ollama_error(res, http_status_for(j.status()), j.status().message());
  res.send(200, "application/json", j->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void ps(Api& api, const HttpRequest&, Responder& res) {
  Json models = Json::array();
  for (const auto& m : api.engine().loaded()) {
    auto info = api.engine().find_model(m.name);
    Json d = info.ok() ? details(info.value()) : Json::object();
    models.push_back({{"name", tagged(m.name)}, {"model", tagged(m.name)}, {"size", m.size},
                      {"digest", info.ok() ? info->digest : ""}, {"details", d}, {"expires_at", m.expires_at},
                      {"size_vram", 0}, {"active_requests", m.active}});
  }
  res.send(200, "application/json", Json{{"models", models}}.dump());
}

// Runs a store operation (create, pull, push) answering as Ollama does:
// its status lines streamed as NDJSON ({"status": "..."}), or with stream
// false one {"status": "success"} at the end; a failure is the last line, or
// a plain error when nothing was sent yet.
using Progress = std::function<void(const std::string&)>;
void serve_status(Responder& res, bool stream, const std::function<Status(const Progress&)>& op) {
  Status s = op([&](const std::string& line) {
    if (!stream) return;
    if (!res.started()) res.begin_stream(200, "application/x-ndjson");
    res.write_chunk(Json{{"status", line}}.dump() + "\n");
  });
  if (!s.ok()) {
    if (!res.started()) return send_ollama_error(res, http_status_for(s), s.message());
    res.write_chunk(Json{{"error", s.message()}}.dump() + "\n");
    res.end_stream();
    return;
  }
  if (stream) res.end_stream();
  else res.send(200, "application/json", Json{{"status", "success"}}.dump());
}

void create(Api& api, const HttpRequest& req, Responder& res) {
  Json body = parse_object(req.body);
  std::string name = opt_string(body, "model").value_or(opt_string(body, "name").value_or(""));
  if (name.empty()) throw HttpError(400, "model is required", "model");
  store::Store* st = api.engine().model_store();
  if (!st) return send_ollama_error(res, 400, "this server has no model store");
  // Either Modelfile text, or the structured fields of the newer API (as the
  // ollama CLI and clients send them: the model and adapters as blobs
  // uploaded first with POST /api/blobs/<digest>).
  std::string text = opt_string(body, "modelfile").value_or("");
  if (text.empty()) {
    store::Modelfile mf;
    auto blob_of = [&](const std::string& field, const std::string& file, const Json& digest) {
      const std::string path = field + "[\"" + file.substr(0, 80) + "\"]";
      const auto d = digest.is_string() ? store::normalize_digest(digest.get<std::string>()) : std::nullopt;
      if (!d) throw HttpError(400, path + " must be a sha256 digest (sha256:<64 hex digits>)", field);
      if (!st->has_blob(*d))
        throw HttpError(400, path + ": blob " + *d + " not found; upload it first (POST /api/blobs/" + *d + ")", field);
      return st->blob_path(*d);
    };
    auto files_of = [&](const char* field) {
      std::vector<std::string> paths;
      if (!body.contains(field) || body[field].is_null()) return paths;
      if (!body[field].is_object()) throw HttpError(400, std::string(field) + " must be an object of file name -> digest", field);
      for (const auto& [file, digest] : body[field].items()) paths.push_back(blob_of(field, file, digest));
      return paths;
    };
    const std::vector<std::string> files = files_of("files");
    auto from = opt_string(body, "from");
    if (!files.empty()) {
      if (from) throw HttpError(400, "give from or files, not both", "files");
      if (files.size() != 1) throw HttpError(400, "files: one GGUF file (safetensors directories are not supported)", "files");
      mf.from = files[0];
    } else if (from) {
      mf.from = *from;
    } else {
      throw HttpError(400, "give modelfile, from or files", "from");
    }
    mf.adapters = files_of("adapters");
    if (auto s = opt_string(body, "system")) mf.system = *s, mf.has_system = true;
    if (auto t = opt_string(body, "template")) mf.template_text = *t, mf.has_template = true;
    if (body.contains("license") && !body["license"].is_null()) {
      const Json& l = body["license"];
      if (l.is_string()) mf.licenses.push_back(l.get<std::string>());
      else if (l.is_array() && std::all_of(l.begin(), l.end(), [](const Json& x) { return x.is_string(); }))
        for (const auto& x : l) mf.licenses.push_back(x.get<std::string>());
      else throw HttpError(400, "license must be a string or an array of strings", "license");
    }
    if (body.contains("messages") && !body["messages"].is_null()) {
      if (!body["messages"].is_array()) throw HttpError(400, "messages must be an array", "messages");
      for (size_t i = 0; i < body["messages"].size(); ++i) {
        const Json& m = body["messages"][i];
        const std::string p = "messages[" + std::to_string(i) + "]";
        if (!m.is_object()) throw HttpError(400, p + " must be an object", p);
        mf.messages.emplace_back(req_string(m, "role", p), opt_string(m, "content", p).value_or(""));
      }
    }
    text = mf.to_text();
    // PARAMETERs as text lines: parse_modelfile checks each by name.
    if (body.contains("parameters") && !body["parameters"].is_null()) {
      if (!body["parameters"].is_object()) throw HttpError(400, "parameters must be an object", "parameters");
      for (const auto& [k, v] : body["parameters"].items()) {
        const std::string& key = k;  // (a structured binding cannot be captured before C++20 compilers caught up)
        auto one_line = [&](const std::string& x) {
          if (x.find_first_of("\r\n") != std::string::npos)
            throw HttpError(400, "parameters." + key.substr(0, 40) + ": a value of one line", "parameters");
          return x;
        };
        one_line(k);
        for (const Json& x : v.is_array() ? v : Json::array({v})) one_line(x.is_string() ? x.get<std::string>() : x.dump());
        if (v.is_array())
          for (const auto& x : v) text += "PARAMETER " + k + " " + (x.is_string() ? x.get<std::string>() : x.dump()) + "\n";
        else
          text += "PARAMETER " + k + " " + (v.is_string() ? v.get<std::string>() : v.dump()) + "\n";
      }
    }
  }
  const std::string quantize = opt_string(body, "quantize").value_or("");
  serve_status(res, opt_bool(body, "stream").value_or(true), [&](const Progress& progress) {
    auto m = create_model(*st, name, text, "/", quantize, progress);
    return m.ok() ? Status() : m.status();
  });
}

void copy(Api& api, const HttpRequest& req, Responder& res) {
  Json body = parse_object(req.body);
  store::Store* st = api.engine().model_store();
  if (!st) return send_ollama_error(res, 400, "this server has no model store");
  Status s = st->copy(req_string(body, "source"), req_string(body, "destination"));
  if (!s.ok()) return send_ollama_error(res, http_status_for(s), s.message());
  res.send(200, "application/json", "{}");
}

void remove(Api& api, const HttpRequest& req, Responder& res) {
  Json body = parse_object(req.body);
  std::string name = opt_string(body, "model").value_or(opt_string(body, "name").value_or(""));
  if (name.empty()) throw HttpError(400, "model is required", "model");
  store::Store* st = api.engine().model_store();
  if (!st) return send_ollama_error(res, 400, "this server has no model store");
  Status s = st->remove(name);
  if (!s.ok()) return send_ollama_error(res, http_status_for(s), s.message());
  res.send(200, "application/json", "{}");
}

void pull(Api& api, const HttpRequest& req, Responder& res) {
  Json body = parse_object(req.body);
  std::string source = opt_string(body, "model").value_or(opt_string(body, "name").value_or(""));
  if (source.empty()) throw HttpError(400, "model is required (a path or http://host:port/name)", "model");
  store::Store* st = api.engine().model_store();
  if (!st) return send_ollama_error(res, 400, "this server has no model store");
  serve_status(res, opt_bool(body, "stream").value_or(true),
               [&](const Progress& progress) { return pull_model(*st, source, progress); });
}

// POST /api/push {"model": "http://host:port/name[:tag]"}: the local model
// name[:tag] (the store's, or a file of the models directory) goes to that
// server (hearth or Ollama): blobs it lacks uploaded, then created there.
void push(Api& api, const HttpRequest& req, Responder& res) {
  Json body = parse_object(req.body);
  const std::string dest = opt_string(body, "model").value_or(opt_string(body, "name").value_or(""));
  if (dest.rfind("http://", 0) != 0)
    throw HttpError(400, "model must be the destination, http://host:port/name[:tag] (the local model of that name is pushed)", "model");
  auto url = parse_url(dest);
  if (!url.ok()) throw HttpError(400, url.status().message(), "model");
  const std::string local = url->path.size() > 1 ? url->path.substr(1) : "";
  store::Store* st = api.engine().model_store();
  Result<PushSource> src = st && st->get(local).ok() ? push_source(st, local) : Result<PushSource>(not_found(""));
  if (!src.ok()) {
    auto info = api.engine().find_model(local);
    if (!info.ok()) return send_ollama_error(res, http_status_for(info.status()), info.status().message());
    src = push_source(nullptr, info->path);
    if (!src.ok()) return send_ollama_error(res, http_status_for(src.status()), src.status().message());
  }
  serve_status(res, opt_bool(body, "stream").value_or(true),
               [&](const Progress& progress) { return push_model(src.value(), dest, progress); });
}

// The store's manifest of a model, for another server pulling it.
void manifest(Api& api, const HttpRequest& req, Responder& res) {
  std::string rest = req.path.substr(std::string("/api/manifests/").size());
  std::vector<std::string> parts;
  for (size_t b = 0;;) {
    size_t e = rest.find('/', b);
    parts.push_back(rest.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  store::Store* st = api.engine().model_store();
  if (!st || parts.size() != 3) return send_ollama_error(res, 404, "no such manifest");
  auto m = st->get(parts[0] + "/" + parts[1] + ":" + parts[2]);
  if (!m.ok()) return send_ollama_error(res, http_status_for(m.status()), m.status().message());
  res.send(200, "application/json", m->manifest.to_json().dump());
}

// A blob, streamed in chunks (models are large). Digests as "sha256-<hex>"
// or Ollama's "sha256:<hex>".
void blob(Api& api, const HttpRequest& req, Responder& res) {
  const auto digest = store::normalize_digest(req.path.substr(std::string("/api/blobs/").size()));
  store::Store* st = api.engine().model_store();
  if (!st || !digest) return send_ollama_error(res, 404, "no such blob");
  FILE* f = std::fopen(st->blob_path(*digest).c_str(), "rb");
  if (!f) return send_ollama_error(res, 404, "no such blob");
  res.begin_stream(200, "application/octet-stream");
  std::vector<char> buf(1 << 20);
  for (;;) {
    size_t n = std::fread(buf.data(), 1, buf.size(), f);
    if (n == 0 || !res.write_chunk(std::string(buf.data(), n))) break;
  }
  std::fclose(f);
  res.end_stream();
}

// HEAD /api/blobs/<digest>: 200 when the store has it (a client uploads it
// otherwise), 404 when not; no body.
void blob_exists(Api& api, const HttpRequest& req, Responder& res) {
  store::Store* st = api.engine().model_store();
  const bool have = st && st->has_blob(req.path.substr(std::string("/api/blobs/").size()));
  res.send(have ? 200 : 404, "application/json", "");
}

// POST /api/blobs/<digest>: the body (streamed into the store as it came,
// Api::open_upload) is kept when its sha256 is the digest: 201.
void blob_upload(Api& api, const HttpRequest& req, Responder& res) {
  store::Store* st = api.engine().model_store();
  if (!st) return send_ollama_error(res, 400, "this server has no model store");
  const std::string named = req.path.substr(std::string("/api/blobs/").size());
  const auto digest = store::normalize_digest(named);
  if (!digest) return send_ollama_error(res, 400, "'" + named.substr(0, 80) + "' is not a sha256 digest (sha256:<64 hex digits>)");
  auto* up = dynamic_cast<BlobUpload*>(req.upload.get());
  std::shared_ptr<BlobUpload> local;
  if (!up) {  // (the upload could not be opened when the head came: try now, to report why)
    auto w = store::BlobWriter::open(*st);
    if (!w.ok()) return send_ollama_error(res, http_status_for(w.status()), w.status().message());
    local = std::make_shared<BlobUpload>();
    local->writer = std::move(w.value());
    local->write(req.body.data(), req.body.size());
    up = local.get();
  }
  if (!up->error.ok()) return send_ollama_error(res, http_status_for(up->error), up->error.message());
  if (!up->writer) return send_ollama_error(res, 500, "the upload was not stored");
  auto got = up->writer->commit(*digest);
  if (!got.ok()) return send_ollama_error(res, http_status_for(got.status()), got.status().message());
  res.send(201, "application/json", "");
}

}  // namespace

void register_ollama(std::map<std::pair<std::string, std::string>, std::function<void(Api&, const HttpRequest&, Responder&)>>& r) {
  r[{"POST", "/api/generate"}] = generate;
  r[{"POST", "/api/chat"}] = chat;
  r[{"GET", "/api/tags"}] = tags;
  r[{"POST", "/api/show"}] = show;
  r[{"GET", "/api/ps"}] = ps;
  r[{"POST", "/api/create"}] = create;
  r[{"POST", "/api/copy"}] = copy;
  r[{"DELETE", "/api/delete"}] = remove;
  r[{"POST", "/api/pull"}] = pull;
  r[{"POST", "/api/push"}] = push;
  r[{"GET", "/api/manifests/"}] = manifest;
  r[{"GET", "/api/blobs/"}] = blob;
  r[{"HEAD", "/api/blobs/"}] = blob_exists;
  r[{"POST", "/api/blobs/"}] = blob_upload;
  r[{"GET", "/api/version"}] = [](Api&, const HttpRequest&, Responder& res) {
    res.send(200, "application/json", "{\"version\":\"0.1.0\"}");
  };
}

}  // namespace hearth::server
