#include "server/http.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace hearth::server {

namespace http = boost::beast::http;

namespace {

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
  }
}

bool send_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

class Connection : public Responder {
 public:
  Connection(int fd, const HttpConfig& cfg, bool keep_alive) : fd_(fd), cfg_(cfg), keep_alive_(keep_alive) {}

  void send(int status, const std::string& content_type, const std::string& body,
            const std::map<std::string, std::string>& headers) override {
    if (started_) return;
    started_ = true;
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
    if (!content_type.empty()) head += "Content-Type: " + content_type + "\r\n";
    head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    head += keep_alive_ ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
    for (const auto& [k, v] : cfg_.extra_headers) head += k + ": " + v + "\r\n";
    for (const auto& [k, v] : headers) head += k + ": " + v + "\r\n";
    for (const auto& [k, v] : extra_) head += k + ": " + v + "\r\n";
    ok_ = send_all(fd_, head + "\r\n" + body);
  }

  bool begin_stream(int status, const std::string& content_type) override {
    if (started_) return false;
    started_ = streaming_ = true;
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
    head += "Content-Type: " + content_type + "\r\nTransfer-Encoding: chunked\r\nCache-Control: no-cache\r\n";
    head += keep_alive_ ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
    for (const auto& [k, v] : cfg_.extra_headers) head += k + ": " + v + "\r\n";
    for (const auto& [k, v] : extra_) head += k + ": " + v + "\r\n";
    ok_ = send_all(fd_, head + "\r\n");
    return ok_;
  }

  bool write_chunk(const std::string& data) override {
    if (!ok_ || !streaming_ || data.empty()) return ok_;
    char len[32];
    std::snprintf(len, sizeof len, "%zx\r\n", data.size());
    ok_ = send_all(fd_, len + data + "\r\n");
    return ok_;
  }

  void end_stream() override {
    if (streaming_ && ok_) ok_ = send_all(fd_, "0\r\n\r\n");
    streaming_ = false;
  }

  bool started() const override { return started_; }

  bool client_gone() override {
    if (!ok_) return true;
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return true;
    char c;
    ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0;
  }

  bool ok() const { return ok_; }

 private:
  int fd_;
  const HttpConfig& cfg_;
  bool keep_alive_;
  bool started_ = false, streaming_ = false, ok_ = true;
};

// After an early error response (the request body may still be arriving),
// stop sending and read off what the client still sends for a moment, so that
// it sees the response instead of a connection reset.
void linger_close(int fd) {
  ::shutdown(fd, SHUT_WR);
  char sink[65536];
  size_t total = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (total < (64u << 20) && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) break;
    ssize_t n = ::recv(fd, sink, sizeof sink, 0);
    if (n <= 0) break;
    total += static_cast<size_t>(n);
  }
}

void simple_response(int fd, int status, const std::string& message) {
  std::string body = "{\"error\":{\"message\":\"" + message + "\",\"type\":\"invalid_request_error\"}}";
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) +
                  "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
                  "\r\n\r\n" + body;
  send_all(fd, r);
}

}  // namespace

HttpServer::HttpServer(HttpConfig config, Handler handler) : cfg_(std::move(config)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() {
  stop_accepting();
  // Wait for connection threads (they are detached) to finish.
  for (int i = 0; i < 600 && connections_.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

Status HttpServer::start() {
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  std::string port = std::to_string(cfg_.port);
  int rc = ::getaddrinfo(cfg_.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) return invalid_argument("cannot resolve host '" + cfg_.host + "': " + gai_strerror(rc));
  std::string last_error = "no address";
  for (addrinfo* a = res; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 128) == 0) {
      listen_fd_ = fd;
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
      bound_port_ = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                             : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
      break;
    }
    last_error = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  if (listen_fd_ < 0) return io_error("cannot listen on " + cfg_.host + ":" + port + ": " + last_error);
  accepting_ = true;
  accept_thread_ = std::thread([this] { accept_loop(); });
  return Status();
}

void HttpServer::stop_accepting() {
  if (!accepting_.exchange(false)) return;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  if (accept_thread_.joinable()) accept_thread_.join();
}

void HttpServer::accept_loop() {
  while (accepting_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    if (connections_.load() >= cfg_.max_connections) {
      simple_response(fd, 503, "too many connections");
      ::close(fd);
      continue;
    }
    timeval tv{cfg_.read_timeout_s, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    connections_++;
    std::thread([this, fd] {
      serve(fd);
      ::close(fd);
      connections_--;
    }).detach();
  }
}

namespace {

// The request line and headers as an HttpRequest (no body yet).
template <class Message>
HttpRequest head_of(const Message& msg) {
  HttpRequest req;
  req.method = std::string(msg.method_string());
  std::string target(msg.target());
  size_t q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) req.query = target.substr(q + 1);
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers[name] = std::string(f.value());
  }
  return req;
}

}  // namespace

void HttpServer::serve(int fd) {
  std::string buf;
  char tmp[16384];
  for (;;) {
    bool have_any = !buf.empty();
    // More bytes from the socket; false when the client went away or stalled.
    auto fill = [&]() {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, cfg_.read_timeout_s * 1000) <= 0) return false;
      ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      buf.append(tmp, static_cast<size_t>(n));
      have_any = true;
      return true;
    };
    // Feeds the parser until `done` holds: 0, or the status to answer (-1:
    // close without one: the client left, or an idle keep-alive ended).
    // `on_body` (streamed bodies) takes what the parser put in its buffer.
    auto feed = [&](auto& parser, auto done, auto on_body) -> int {
      while (!done()) {
        if (buf.empty() && !fill()) return have_any ? 408 : -1;
        boost::beast::error_code ec;
        size_t used = parser.put(boost::asio::buffer(buf.data(), buf.size()), ec);
        buf.erase(0, used);
        if (!on_body()) return 0;
        if (ec == http::error::need_buffer) continue;
        if (ec == http::error::need_more) {
          if (used == 0 && !fill()) return 408;
          continue;
        }
        if (ec == http::error::body_limit) return 413;
        if (ec == http::error::header_limit) return 431;
        if (ec) return 400;
      }
      return 0;
    };
    auto refuse = [&](int status) {
      if (status > 0) {
        simple_response(fd, status, status == 408 ? "timed out reading the request"
                                    : status == 413 ? "request body too large"
                                    : status == 431 ? "request headers too large" : "malformed HTTP request");
        if (status != 408) linger_close(fd);
      }
    };
    http::request_parser<http::empty_body> head;
    head.header_limit(static_cast<uint32_t>(cfg_.max_header_bytes));
    head.body_limit(boost::none);  // (each body's parser sets its own, below)
    head.eager(false);
    if (int st = feed(head, [&] { return head.is_header_done(); }, [] { return true; }); st != 0) return refuse(st);
    HttpRequest req = head_of(head.get());
    std::shared_ptr<BodySink> sink = open_upload_ && !head.is_done() ? open_upload_(req) : nullptr;
    if (sink && !sink->accepting()) {  // answered from the head; the body is left unread
      req.upload = std::move(sink);
      Connection conn(fd, cfg_, false);
      handler_(req, conn);
      if (!conn.started()) conn.send(500, "application/json", "{\"error\":{\"message\":\"no response\"}}", {});
      if (conn.ok()) linger_close(fd);
      return;
    }
    if (boost::beast::iequals(req.header("expect"), "100-continue")) {
      static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      if (::send(fd, kContinue, sizeof kContinue - 1, MSG_NOSIGNAL) < 0) return;
    }
    bool keep_alive = false, body_left = false;
    if (sink) {  // streamed: the body goes to the sink a buffer at a time
      if (head.content_length() && *head.content_length() > cfg_.max_upload_bytes) return refuse(413);
      http::request_parser<http::buffer_body> p{std::move(head)};
      p.body_limit(cfg_.max_upload_bytes);
      std::vector<char> chunk(1 << 20);
      bool sink_ok = true;
      auto reset = [&] {
        p.get().body().data = chunk.data();
        p.get().body().size = chunk.size();
        p.get().body().more = true;
      };
      reset();
      int st = feed(p, [&] { return p.is_done() || !sink_ok; }, [&] {
        const size_t got = chunk.size() - p.get().body().size;
        if (got > 0) sink_ok = sink->write(chunk.data(), got);
        reset();
        return sink_ok;
      });
      if (st != 0) return refuse(st);
      body_left = !sink_ok;  // the rest of the body is not read: this connection ends
      if (body_left) keep_alive = false;
      else keep_alive = p.get().keep_alive();
      req.upload = std::move(sink);
    } else {
      if (head.content_length() && *head.content_length() > cfg_.max_body_bytes) return refuse(413);
      http::request_parser<http::string_body> p{std::move(head)};
      p.body_limit(cfg_.max_body_bytes);
      if (int st = feed(p, [&] { return p.is_done(); }, [] { return true; }); st != 0) return refuse(st);
      req.body = std::move(p.get().body());
      keep_alive = p.get().keep_alive();
    }
    keep_alive = keep_alive && accepting_;
    Connection conn(fd, cfg_, keep_alive);
    handler_(req, conn);
    if (!conn.started()) conn.send(500, "application/json", "{\"error\":{\"message\":\"no response\"}}", {});
    if (body_left && conn.ok()) linger_close(fd);  // (so that the client reads the answer)
    if (!conn.ok() || !keep_alive) return;
  }
}

}  // namespace hearth::server
