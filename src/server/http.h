// A small HTTP/1.1 server on Boost.Beast: one thread per connection with
// socket-level read timeouts (slow clients cannot pin a connection), limits
// on header and body size, keep-alive, and chunked streaming responses.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "hearth/status.h"

namespace hearth::server {

// Where a streamed request body goes (a large upload: a model blob), chosen
// from the request's head before its body is read; see HttpServer::set_uploads.
class BodySink {
 public:
  virtual ~BodySink() = default;
  // False: stop reading (the handler answers with the sink's reason).
  virtual bool write(const char* data, size_t n) = 0;
  // False: refused from the head alone (e.g. too large for the disk); the
  // body is not read, nor a 100 Continue sent, and the handler answers.
  virtual bool accepting() const { return true; }
};

struct HttpRequest {
  std::string method;
  std::string path;   // without the query string
  std::string query;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::shared_ptr<BodySink> upload;  // set: the body went here instead (body is empty)
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// How a handler answers: either one response, or a stream of chunks.
class Responder {
 public:
  virtual ~Responder() = default;
  virtual void send(int status, const std::string& content_type, const std::string& body,
                    const std::map<std::string, std::string>& headers = {}) = 0;
  virtual bool begin_stream(int status, const std::string& content_type) = 0;
  // False once the client has gone away (the handler should cancel its work).
  virtual bool write_chunk(const std::string& data) = 0;
  virtual void end_stream() = 0;
  virtual bool started() const = 0;
  // True when the client closed its side of the connection.
  virtual bool client_gone() = 0;
  // A header added to the response (before send/begin_stream).
  void add_header(const std::string& k, const std::string& v) { extra_[k] = v; }

 protected:
  std::map<std::string, std::string> extra_;
};

using Handler = std::function<void(const HttpRequest&, Responder&)>;

struct HttpConfig {
  std::string host = "127.0.0.1";
  int port = 11434;
  size_t max_body_bytes = 16u << 20;
  uint64_t max_upload_bytes = 1ull << 40;  // streamed bodies (BodySink)
  size_t max_header_bytes = 16u << 10;
  int read_timeout_s = 30;
  int max_connections = 512;
  std::map<std::string, std::string> extra_headers;  // e.g. CORS, added to every response
};

class HttpServer {
 public:
  HttpServer(HttpConfig config, Handler handler);
  ~HttpServer();
  // Binds and starts accepting in a background thread.
  Status start();
  // Stops accepting new connections (open ones finish their current request).
  void stop_accepting();
  int port() const { return bound_port_; }
  // Requests for which `open` returns a sink (given the method, path and
  // headers) have their body streamed into it, up to max_upload_bytes,
  // rather than held in memory; a sink that is not accepting() has the
  // request answered from its head (e.g. one the API key refuses). Set
  // before start().
  void set_uploads(std::function<std::shared_ptr<BodySink>(const HttpRequest& head)> open) { open_upload_ = std::move(open); }
  int open_connections() const { return connections_.load(); }

 private:
  void accept_loop();
  void serve(int fd);

  HttpConfig cfg_;
  Handler handler_;
  std::function<std::shared_ptr<BodySink>(const HttpRequest& head)> open_upload_;
  int listen_fd_ = -1;
  int bound_port_ = 0;
  std::thread accept_thread_;
  std::atomic<bool> accepting_{false};
  std::atomic<int> connections_{0};
};

}  // namespace hearth::server
