// The HTTP API: a route table mapping (method, path) to thin adapters that
// translate the OpenAI and Ollama wire formats to runtime::GenerateRequest
// and back, plus health, readiness and metrics. Auth (optional API key,
// constant-time compare) and CORS (allow-list) apply to every route but
// liveness.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "server/fields.h"
#include "server/http.h"

namespace hearth::server {

struct ApiConfig {
  std::string api_key;                    // empty: no auth
  std::vector<std::string> cors_origins;  // empty: CORS off; "*" allows any
};

class Api {
 public:
  Api(runtime::Engine& engine, ApiConfig cfg);
  void handle(const HttpRequest& req, Responder& res);

  // Shared by the adapters.
  runtime::Engine& engine() { return engine_; }
  // Waits for the stream's events, cancelling the request if the client goes
  // away; on_event returns false to stop early.
  void pump(runtime::RequestStream& stream, Responder& res, const std::function<bool(runtime::Event&)>& on_event);

 private:
  using Route = std::function<void(Api&, const HttpRequest&, Responder&)>;
  runtime::Engine& engine_;
  ApiConfig cfg_;
  std::map<std::pair<std::string, std::string>, Route> routes_;
};

// Adapters (one file each).
void register_openai(std::map<std::pair<std::string, std::string>, std::function<void(Api&, const HttpRequest&, Responder&)>>& r);
void register_ollama(std::map<std::pair<std::string, std::string>, std::function<void(Api&, const HttpRequest&, Responder&)>>& r);
void register_embeddings(std::map<std::pair<std::string, std::string>, std::function<void(Api&, const HttpRequest&, Responder&)>>& r);

// JSON error bodies in each protocol's shape.
void send_openai_error(Responder& res, int status, const std::string& message, const std::string& param = "",
                       const std::string& code = "");
void send_ollama_error(Responder& res, int status, const std::string& message);
int http_status_for(const Status& s);
std::string now_rfc3339_nanos();

}  // namespace hearth::server
