#include "server/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "core/json_depth.h"

namespace hearth::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

Result<Url> parse_url(const std::string& text) {
  std::string s = text;
  if (s.rfind("https://", 0) == 0) return unsupported("https is not supported (no TLS): " + text);
  if (s.rfind("http://", 0) == 0) s = s.substr(7);
  Url u;
  size_t slash = s.find('/');
  std::string hostport = s.substr(0, slash);
  if (slash != std::string::npos) u.path = s.substr(slash);
  size_t colon = hostport.rfind(':');
  if (colon != std::string::npos) {
    u.host = hostport.substr(0, colon);
    u.port = hostport.substr(colon + 1);
  } else {
    u.host = hostport;
  }
  if (u.host.empty()) return invalid_argument("no host in URL '" + text + "'");
  for (char c : u.port)
    if (!std::isdigit(static_cast<unsigned char>(c))) return invalid_argument("bad port in URL '" + text + "'");
  return u;
}

Status answer_error(const Url& url, const HttpResponse& r) {
  std::string message = r.body.substr(0, 300);
  auto j = core::parse_json_bounded<nlohmann::json>(r.body);
  if (!j.is_discarded() && j.contains("error")) {
    const auto& e = j["error"];
    if (e.is_string()) message = e.get<std::string>();
    else if (e.is_object() && e.contains("message") && e["message"].is_string()) message = e["message"].get<std::string>();
  }
  const std::string where = "the server at " + url.host + ":" + url.port + " answered " + std::to_string(r.status);
  if (r.status == 401)
    return invalid_argument(where + ": " + message + (url.api_key.empty() ? " (set HEARTH_API_KEY to its key)" : " (check HEARTH_API_KEY)"));
  if (r.status == 404) return not_found(where + ": " + message);
  return r.status >= 500 ? unavailable(where + ": " + message) : invalid_argument(where + ": " + message);
}

Url local_server() {
  Url u;
  u.host = "127.0.0.1";
  if (const char* h = std::getenv("HEARTH_HOST")) {
    auto p = parse_url(h);
    if (p.ok()) u = p.value();
  }
  if (const char* k = std::getenv("HEARTH_API_KEY")) u.api_key = k;
  return u;
}

Result<HttpResponse> http_request(const Url& url, const std::string& method, const std::string& path,
                                  const std::string& body, const std::function<bool(const char*, size_t)>& on_data) {
  try {
    net::io_context ioc;
    net::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(resolver.resolve(url.host, url.port));
    http::request<http::string_body> req(http::string_to_verb(method), path, 11);
    req.set(http::field::host, url.host);
    req.set(http::field::user_agent, "hearth");
    if (!url.api_key.empty()) req.set(http::field::authorization, "Bearer " + url.api_key);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
    }
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    if (method == "HEAD") parser.skip(true);  // a length but no body
    HttpResponse out;
    http::read_header(stream, buf, parser);
    out.status = static_cast<int>(parser.get().result_int());
    char chunk[1 << 16];
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof chunk;
      stream.expires_after(std::chrono::seconds(120));
      beast::error_code ec;
      http::read(stream, buf, parser, ec);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return io_error(std::string("reading the response: ") + ec.message());
      size_t n = sizeof chunk - parser.get().body().size;
      if (n == 0) continue;
      if (on_data && out.status == 200) {
        if (!on_data(chunk, n)) return io_error("download aborted");
      } else {
        out.body.append(chunk, n);
      }
    }
    beast::error_code ec;
    stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
    return out;
  } catch (const boost::system::system_error& e) {  // (its what() carries source locations)
    return unavailable("cannot reach " + url.host + ":" + url.port + ": " + e.code().message());
  } catch (const std::exception& e) {
    return unavailable("cannot reach " + url.host + ":" + url.port + ": " + e.what());
  }
}

Result<HttpResponse> http_upload_file(const Url& url, const std::string& path, const std::string& file) {
  try {
    net::io_context ioc;
    net::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.connect(resolver.resolve(url.host, url.port));
    http::request<http::file_body> req(http::verb::post, path, 11);
    req.set(http::field::host, url.host);
    req.set(http::field::user_agent, "hearth");
    if (!url.api_key.empty()) req.set(http::field::authorization, "Bearer " + url.api_key);
    req.set(http::field::content_type, "application/octet-stream");
    beast::error_code ec;
    req.body().open(file.c_str(), beast::file_mode::scan, ec);
    if (ec) return io_error(file + ": " + ec.message());
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
    return HttpResponse{static_cast<int>(res.result_int()), res.body()};
  } catch (const boost::system::system_error& e) {
    return unavailable("cannot upload to " + url.host + ":" + url.port + ": " + e.code().message());
  } catch (const std::exception& e) {
    return unavailable("cannot upload to " + url.host + ":" + url.port + ": " + e.what());
  }
}

}  // namespace hearth::server
