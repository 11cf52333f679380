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
#include "store/store.h"

namespace hearth::server {

struct ApiConfig {
  std::string api_key;                    // empty: no auth
  std::vector<std::string> cors_origins;  // empty: CORS off; "*" allows any
};

// A blob upload's body (POST /api/blobs/<digest>): written into the model
// store as it arrives, hashed on the way; the route commits it.
struct BlobUpload : BodySink {
  std::unique_ptr<store::BlobWriter> writer;  // null: could not open (error says why)
  Status error;
  bool write(const char* data, size_t n) override {
    if (error.ok()) error = writer->write(data, n);
    return error.ok();
  }
  bool accepting() const override { return error.ok(); }
};

class Api {
 public:
  Api(runtime::Engine& engine, ApiConfig cfg);
  void handle(const HttpRequest& req, Responder& res);
  // HttpServer::set_uploads: for a request the API key refuses, a sink that
  // leaves the body unread (handle() answers 401 from the head); a BlobUpload
  // for an authorized POST /api/blobs/<digest> to a server with a store;
  // else null (the request is then read whole and answered by handle()).
  std::shared_ptr<BodySink> open_upload(const HttpRequest& head);

  // Shared by the adapters.
  runtime::Engine& engine() { return engine_; }
  // Waits for the stream's events, cancelling the request if the client goes
  // away; on_event returns false to stop early.
  void pump(runtime::RequestStream& stream, Responder& res, const std::function<bool(runtime::Event&)>& on_event);

 private:
  using Route = std::function<void(Api&, const HttpRequest&, Responder&)>;
  bool authorized(const HttpRequest& req) const;
  runtime::Engine& engine_;
  ApiConfig cfg_;
  std::map<std::pair<std::string, std::string>, Route> routes_;
};

// Adapters (one file each).
void register_openai(std::map<std::pair<std::string, std::string>, std::function<void(Api&, const HttpRequest&, Responder&)>>& r);
void register_ollama(std::map<std::pair<std::string, std::string>, std::function<void(Api&, const HttpRequest&, Responder&)>>& r);
void register_anthropic(std::map<std::pair<std::string, std::string>, std::function<void(Api&, const HttpRequest&, Responder&)>>& r);
void register_embeddings(std::map<std::pair<std::string, std::string>, std::function<void(Api&, const HttpRequest&, Responder&)>>& r);

// JSON error bodies in each protocol's shape.
void send_openai_error(Responder& res, int status, const std::string& message, const std::string& param = "",
                       const std::string& code = "");
void send_ollama_error(Responder& res, int status, const std::string& message);
void send_anthropic_error(Responder& res, int status, const std::string& message);
int http_status_for(const Status& s);
std::string now_rfc3339_nanos();

}  // namespace hearth::server
