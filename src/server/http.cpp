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

void HttpServer::serve(int fd) {
  std::string buf;
  char tmp[16384];
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(cfg_.max_header_bytes));
    parser.body_limit(cfg_.max_body_bytes);
    parser.eager(true);
    bool have_any = !buf.empty();
    while (!parser.is_done()) {
      if (buf.empty()) {
        pollfd p{fd, POLLIN, 0};
        int pr = ::poll(&p, 1, cfg_.read_timeout_s * 1000);
        if (pr <= 0) {
          if (have_any) simple_response(fd, 408, "timed out reading the request");
          return;  // idle keep-alive connection or slow client
        }
        ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
        if (n <= 0) return;
        buf.append(tmp, static_cast<size_t>(n));
        have_any = true;
      }
      boost::beast::error_code ec;
      size_t used = parser.put(boost::asio::buffer(buf.data(), buf.size()), ec);
      buf.erase(0, used);
      if (ec == http::error::need_more) {
        if (used == 0) {
          pollfd p{fd, POLLIN, 0};
          if (::poll(&p, 1, cfg_.read_timeout_s * 1000) <= 0) {
            simple_response(fd, 408, "timed out reading the request");
            return;
          }
          ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
          if (n <= 0) return;
          buf.append(tmp, static_cast<size_t>(n));
        }
        continue;
      }
      if (ec == http::error::body_limit) {
        simple_response(fd, 413, "request body too large");
        linger_close(fd);
        return;
      }
      if (ec == http::error::header_limit) {
        simple_response(fd, 431, "request headers too large");
        linger_close(fd);
        return;
      }
      if (ec) {
        simple_response(fd, 400, "malformed HTTP request");
        linger_close(fd);
        return;
      }
    }
    auto& msg = parser.get();
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
    req.body = std::move(msg.body());
    const bool keep_alive = msg.keep_alive() && accepting_;
    Connection conn(fd, cfg_, keep_alive);
    handler_(req, conn);
    if (!conn.started()) conn.send(500, "application/json", "{\"error\":{\"message\":\"no response\"}}", {});
    if (!conn.ok() || !keep_alive) return;
  }
}

}  // namespace hearth::server
