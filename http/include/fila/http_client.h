#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fila/clock.h"

namespace fila {

struct HttpRequest {
  std::string method = "GET";  // GET, POST, PUT, ...
  std::string url;             // http:// or https:// only
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  Deadline deadline = DeadlineIn(std::chrono::seconds(30));
  // A larger body is cut off: the request fails with PermanentError.
  size_t max_response_bytes = size_t{64} << 20;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; last value wins
  std::string body;
  // The value of a header, or "" when absent (`name` lower-case).
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// A blocking HTTP client for handlers that call external services.
// Thread-safe: each call uses its own connection state. Any status is a
// response (the caller classifies 429/5xx); throws TransientError when no
// response arrived (connection refused or reset, DNS, TLS, deadline
// passed) and PermanentError for a bad URL, an unsupported scheme or a
// response larger than max_response_bytes. Never logs headers or bodies.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual HttpResponse Send(const HttpRequest& request) = 0;
};

// The libcurl implementation.
std::unique_ptr<HttpClient> MakeHttpClient();

// Seconds a 429/503 response asks to wait (Retry-After as seconds or an
// HTTP date), or -1 when it names none.
double RetryAfterSeconds(const HttpResponse& response);

}  // namespace fila
