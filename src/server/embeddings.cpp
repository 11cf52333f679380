// Embedding routes: OpenAI /v1/embeddings, Ollama /api/embed and the legacy
// /api/embeddings. All go through the engine's one request path.
#include "server/api.h"

namespace hearth::server {

namespace {

using runtime::Event;

// Submits and waits for the single Done (or Error) event.
bool run(Api& api, Responder& res, runtime::EmbedRequest er, bool openai, Event* out) {
  runtime::GenerateRequest r;
  r.model = er.model;
  r.keep_alive_s = er.keep_alive_s;
  r.embed = std::move(er);
  auto s = api.engine().submit(std::move(r));
  auto send_err = [&](const Status& st) {
    if (openai) send_openai_error(res, http_status_for(st), st.message(), st.code() == StatusCode::kNotFound ? "model" : "");
    else send_ollama_error(res, http_status_for(st), st.message());
  };
  if (!s.ok()) {
    send_err(s.status());
    return false;
  }
  bool ok = false;
  api.pump(*s.value(), res, [&](Event& ev) {
    if (ev.kind == Event::Kind::kError) send_err(ev.error);
    if (ev.kind == Event::Kind::kDone) {
      *out = std::move(ev);
      ok = true;
    }
    return false;
  });
  return ok;
}

std::vector<std::string> string_inputs(const Json& v, const std::string& field) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    for (const auto& x : v) {
      if (!x.is_string()) bad_request(field + " must be a string or an array of strings", field);
      out.push_back(x.get<std::string>());
    }
  } else {
    bad_request(field + " must be a string or an array of strings", field);
  }
  if (out.empty()) bad_request(field + " must not be empty", field);
  if (out.size() > 2048) bad_request(field + " may have at most 2048 entries", field);
  return out;
}

void openai_embeddings(Api& api, const HttpRequest& req, Responder& res) {
  Json body = parse_object(req.body);
  runtime::EmbedRequest er;
  er.model = req_string(body, "model");
  if (!body.contains("input")) bad_request("input is required", "input");
  const Json& in = body["input"];
  auto is_ids = [](const Json& a) {
    if (!a.is_array() || a.empty()) return false;
    for (const auto& x : a)
      if (!x.is_number_integer()) return false;
    return true;
  };
  if (is_ids(in)) {
    er.token_inputs.push_back(in.get<std::vector<int32_t>>());
  } else if (in.is_array() && !in.empty() && is_ids(in[0])) {
    for (const auto& a : in) {
      if (!is_ids(a)) bad_request("input must be a string, an array of strings, or token id arrays", "input");
      er.token_inputs.push_back(a.get<std::vector<int32_t>>());
    }
  } else {
    er.inputs = string_inputs(in, "input");
  }
  std::string format = opt_string(body, "encoding_format").value_or("float");
  if (format != "float" && format != "base64") bad_request("encoding_format must be float or base64", "encoding_format");
  er.dimensions = opt_int(body, "dimensions", 1, 1 << 20).value_or(0);
  Event ev;
  if (!run(api, res, std::move(er), true, &ev)) return;
  Json data = Json::array();
  for (size_t i = 0; i < ev.embeddings.size(); ++i) {
    Json emb;
    if (format == "base64") {
      static const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      const auto* p = reinterpret_cast<const unsigned char*>(ev.embeddings[i].data());
      size_t n = ev.embeddings[i].size() * sizeof(float);
      std::string s;
      for (size_t k = 0; k < n; k += 3) {
        uint32_t v = p[k] << 16 | (k + 1 < n ? p[k + 1] << 8 : 0) | (k + 2 < n ? p[k + 2] : 0);
        s += kB64[(v >> 18) & 63];
        s += kB64[(v >> 12) & 63];
        s += k + 1 < n ? kB64[(v >> 6) & 63] : '=';
        s += k + 2 < n ? kB64[v & 63] : '=';
      }
      emb = s;
    } else {
      emb = ev.embeddings[i];
    }
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", emb}});
  }
  Json out = {{"object", "list"}, {"data", data}, {"model", body["model"]},
              {"usage", {{"prompt_tokens", ev.usage.prompt_tokens}, {"total_tokens", ev.usage.prompt_tokens}}}};
  res.send(200, "application/json", out.dump());
}

void ollama_embed(Api& api, const HttpRequest& req, Responder& res) {
  Json body = parse_object(req.body);
  runtime::EmbedRequest er;
  er.model = req_string(body, "model");
  if (!body.contains("input")) bad_request("input is required", "input");
  er.inputs = string_inputs(body["input"], "input");
  er.truncate = opt_bool(body, "truncate").value_or(true);
  er.keep_alive_s = parse_keep_alive(body);
  Event ev;
  if (!run(api, res, std::move(er), false, &ev)) return;
  Json out = {{"model", body["model"]}, {"embeddings", ev.embeddings}, {"total_duration", ev.timings.total},
              {"load_duration", ev.timings.load}, {"prompt_eval_count", ev.usage.prompt_tokens}};
  res.send(200, "application/json", out.dump());
}

void ollama_embeddings_legacy(Api& api, const HttpRequest& req, Responder& res) {
  Json body = parse_object(req.body);
  runtime::EmbedRequest er;
  er.model = req_string(body, "model");
  er.inputs = {req_string(body, "prompt")};
  er.normalize = false;  // the legacy route returns raw vectors
  er.keep_alive_s = parse_keep_alive(body);
  Event ev;
  if (!run(api, res, std::move(er), false, &ev)) return;
  res.send(200, "application/json", Json{{"embedding", ev.embeddings.at(0)}}.dump());
}

}  // namespace

void register_embeddings(std::map<std::pair<std::string, std::string>, std::function<void(Api&, const HttpRequest&, Responder&)>>& r) {
  r[{"POST", "/v1/embeddings"}] = openai_embeddings;
  r[{"POST", "/api/embed"}] = ollama_embed;
  r[{"POST", "/api/embeddings"}] = ollama_embeddings_legacy;
}

}  // namespace hearth::server
