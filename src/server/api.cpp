#include "server/api.h"

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <optional>

namespace hearth::server {

namespace {

// Compares without an early exit, so timing does not reveal how much of the
// key matched.
bool constant_time_equal(const std::string& expected, const std::string& given) {
  volatile unsigned char diff = expected.size() == given.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i)
    diff = diff | static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
  return diff == 0;
}

}  // namespace

int http_status_for(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument: case StatusCode::kOutOfRange: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kNoSpace: return 507;  // Insufficient Storage
    default: return 500;
  }
}

std::string now_rfc3339_nanos() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count() % 1000000000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[96];
  std::snprintf(out, sizeof out, "%s.%09lldZ", buf, static_cast<long long>(ns));
  return out;
}

void send_openai_error(Responder& res, int status, const std::string& message, const std::string& param,
                       const std::string& code) {
  const char* type = status == 400 ? "invalid_request_error" : status == 401 ? "authentication_error"
                   : status == 404 ? "not_found_error" : status == 503 || status == 429 ? "server_overloaded" : "server_error";
  Json e = {{"error", {{"message", message}, {"type", type}, {"param", param.empty() ? Json() : Json(param)}, {"code", code.empty() ? Json() : Json(code)}}}};
  std::map<std::string, std::string> h;
  if (status == 503) h["Retry-After"] = "1";
  res.send(status, "application/json", e.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), h);
}

void send_ollama_error(Responder& res, int status, const std::string& message) {
  std::map<std::string, std::string> h;
  if (status == 503) h["Retry-After"] = "1";
  res.send(status, "application/json", Json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), h);
}

Api::Api(runtime::Engine& engine, ApiConfig cfg) : engine_(engine), cfg_(std::move(cfg)) {
  routes_[{"GET", "/health"}] = [](Api&, const HttpRequest&, Responder& r) { r.send(200, "application/json", "{\"status\":\"ok\"}"); };
  routes_[{"GET", "/v2/health/live"}] = routes_[{"GET", "/health"}];
  routes_[{"GET", "/v2/health/ready"}] = [](Api& api, const HttpRequest&, Responder& r) {
    if (api.engine().draining()) r.send(503, "application/json", "{\"status\":\"draining\"}");
    else if (api.engine().loading()) r.send(503, "application/json", "{\"status\":\"loading\"}");
    else r.send(200, "application/json", "{\"status\":\"ready\"}");
  };
  routes_[{"GET", "/ready"}] = routes_[{"GET", "/v2/health/ready"}];
  routes_[{"GET", "/metrics"}] = [](Api& api, const HttpRequest&, Responder& r) {
    r.send(200, "text/plain; version=0.0.4", api.engine().metrics().prometheus());
  };
  routes_[{"GET", "/"}] = [](Api&, const HttpRequest&, Responder& r) { r.send(200, "text/plain", "hearth is running"); };
  register_openai(routes_);
  register_anthropic(routes_);
  register_ollama(routes_);
  register_embeddings(routes_);
}

void Api::handle(const HttpRequest& req, Responder& res) {
  const bool anthropic = req.path == "/v1/messages" || req.path == "/v1/messages/count_tokens";
  const bool openai = req.path.rfind("/v1/", 0) == 0 && !anthropic;
  // Errors in the shape of the route's protocol.
  auto error = [&](int status, const std::string& msg, const std::string& param = "") {
    if (anthropic) send_anthropic_error(res, status, msg);
    else if (openai) send_openai_error(res, status, msg, param);
    else send_ollama_error(res, status, msg);
  };
  // CORS: only origins on the allow-list get the headers.
  std::string origin = req.header("origin");
  if (!origin.empty() && !cfg_.cors_origins.empty()) {
    bool allowed = false;
    for (const auto& o : cfg_.cors_origins) allowed |= o == "*" || o == origin;
    if (allowed) {
      res.add_header("Access-Control-Allow-Origin", origin);
      res.add_header("Vary", "Origin");
      if (req.method == "OPTIONS") {
        res.add_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
        res.add_header("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Api-Key, Anthropic-Version");
        res.send(204, "", "");
        return;
      }
    }
  }
  const bool liveness = req.path == "/health" || req.path == "/v2/health/live";  // (as in open_upload)
  if (!liveness && !authorized(req)) {
    res.add_header("WWW-Authenticate", "Bearer");
    error(401, "invalid or missing API key");
    return;
  }
  auto it = routes_.find({req.method, req.path});
  // Routes with a parameter in the path: /api/manifests/<ns>/<name>/<tag>, /api/blobs/<digest>.
  for (const char* prefix : {"/api/manifests/", "/api/blobs/", "/v1/models/"})
    if (it == routes_.end() && req.path.rfind(prefix, 0) == 0) it = routes_.find({req.method, prefix});
  if (it == routes_.end()) {
    bool path_exists = false;
    for (const auto& [k, _] : routes_) path_exists |= k.second == req.path;
    int status = path_exists ? 405 : 404;
    std::string msg = path_exists ? "method " + req.method + " not allowed on " + req.path : "no route " + req.path;
    error(status, msg);
    return;
  }
  try {
    it->second(*this, req, res);
  } catch (const HttpError& e) {
    if (res.started()) return;
    error(e.status, e.what(), e.param);
  } catch (const std::exception& e) {
    if (res.started()) return;
    error(500, std::string("internal error: ") + e.what());
  }
}

bool Api::authorized(const HttpRequest& req) const {
  if (cfg_.api_key.empty()) return true;
  std::string auth = req.header("authorization");
  // Bearer (OpenAI, Ollama), or x-api-key (Anthropic's clients).
  std::string token = auth.rfind("Bearer ", 0) == 0 ? auth.substr(7) : req.header("x-api-key");
  return constant_time_equal(cfg_.api_key, token);
}

namespace {
// A body left unread: the request is answered from its head.
struct Unread final : BodySink {
  bool write(const char*, size_t) override { return false; }
  bool accepting() const override { return false; }
};
}  // namespace

std::shared_ptr<BodySink> Api::open_upload(const HttpRequest& head) {
  // A request the key refuses is answered 401 whatever its body (which is
  // not read: a large one would otherwise be refused as too large first).
  const bool liveness = head.path == "/health" || head.path == "/v2/health/live";
  if (head.method != "OPTIONS" && !liveness && !authorized(head)) return std::make_shared<Unread>();
  if (head.method != "POST" || head.path.rfind("/api/blobs/", 0) != 0) return nullptr;
  store::Store* st = engine_.model_store();
  if (!st || !store::normalize_digest(head.path.substr(std::string("/api/blobs/").size()))) return nullptr;
  std::optional<uint64_t> length;
  if (const std::string cl = head.header("content-length"); !cl.empty()) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long n = std::strtoull(cl.c_str(), &end, 10);
    if (errno == 0 && end && *end == '\0' && std::isdigit(static_cast<unsigned char>(cl[0]))) length = n;
  }
  auto up = std::make_shared<BlobUpload>();
  auto w = store::BlobWriter::open(*st, length);
  if (w.ok()) up->writer = std::move(w.value());
  else up->error = w.status();  // answered from the head (too large for the disk, or no blobs folder)
  return up;
}

void Api::pump(runtime::RequestStream& stream, Responder& res, const std::function<bool(runtime::Event&)>& on_event) {
  for (;;) {
    runtime::Event ev;
    if (!stream.next(&ev, std::chrono::milliseconds(100))) {
      if (res.client_gone()) {
        stream.cancel();
        return;
      }
      continue;
    }
    bool done = ev.kind != runtime::Event::Kind::kToken;
    if (!on_event(ev) || done) {
      if (!done) stream.cancel();
      return;
    }
  }
}

}  // namespace hearth::server
