// A minimal blocking HTTP/1.1 client (Boost.Beast) for talking to a hearth or
// Ollama-compatible server: the CLI's ps/stop/pull, and /api/pull.
#pragma once

#include <functional>
#include <string>

#include "hearth/status.h"

namespace hearth::server {

struct Url {
  std::string host, port = "11434", path = "/";
  std::string api_key;  // sent as "Authorization: Bearer KEY" when set
};
// "http://host:port/path" (or "host:port") -> parts; only plain http.
Result<Url> parse_url(const std::string& text);

struct HttpResponse {
  int status = 0;
  std::string body;
};

// Sends one request; the body of the answer is returned whole, or passed
// piece by piece to `on_data` when given (large downloads).
Result<HttpResponse> http_request(const Url& url, const std::string& method, const std::string& path,
                                  const std::string& body = "",
                                  const std::function<bool(const char*, size_t)>& on_data = {});

// POSTs a file as the body (streamed from disk, with its length): blob uploads.
Result<HttpResponse> http_upload_file(const Url& url, const std::string& path, const std::string& file);

// An answer other than 2xx as a Status naming the server and its message
// (401: which variable holds the key).
Status answer_error(const Url& url, const HttpResponse& r);

// HEARTH_HOST (host:port) or 127.0.0.1:11434, with HEARTH_API_KEY as its key
// (the key `hearth serve` takes from the same variable; never sent elsewhere).
Url local_server();

}  // namespace hearth::server
