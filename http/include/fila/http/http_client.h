#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fila/core/clock.h"
#include "fila/http/egress_policy.h"

namespace fila {

// Who named a request's URL, which decides what it may reach.
enum class UrlSource {
  // A producer (a task's payload): every connection, on every redirect
  // hop, must pass the egress policy. The default: fail closed.
  kPayload,
  // The worker's own configuration (FILA_OMIE_API_URL, FILA_EMBEDDINGS_URL,
  // ...): the URL's origin (scheme, host, port) is reachable wherever it
  // points; a redirect to any other origin must pass the policy.
  kOperator,
};

// The longest URL a payload may name, and the client accepts.
inline constexpr size_t kMaxUrlBytes = 8192;
// Redirects followed per request, each hop checked.
inline constexpr int kMaxRedirects = 5;
// Idle connection sets (one per request in flight at once, at most) a
// client keeps for reuse; the oldest beyond it are closed.
inline constexpr size_t kMaxIdleHandles = 64;

// Checks a URL taken from a payload before anything is fetched: at most
// kMaxUrlBytes, http:// or https://, well-formed. Throws PermanentError
// naming `field` (the message never quotes a long URL).
void ValidatePayloadUrl(const std::string& url, const std::string& field);

struct HttpRequest {
  std::string method = "GET";  // GET, POST, PUT, ...
  std::string url;             // http:// or https:// only, at most kMaxUrlBytes
  UrlSource source = UrlSource::kPayload;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  Deadline deadline = DeadlineIn(std::chrono::seconds(30));
  // A larger body is cut off: the request fails with PermanentError.
  size_t max_response_bytes = size_t{64} << 20;
  // Polled while the request runs (about every 50 ms, from the calling
  // thread): once it returns true the request is abandoned, its connection
  // closed, and Send throws TransientError ("... cancelled"). Empty: never.
  std::function<bool()> cancelled;
  // false: a 3xx is the response (its Location header read by the caller,
  // e.g. a "latest issue" page that redirects to it), nothing is followed.
  bool follow_redirects = true;
  // Called as each request has left (a redirect's too): right after its
  // headers were handed to the kernel, before any answer is read; from the
  // calling thread. Must not throw. Times a host's minimum gap from the
  // send (Permit::Sent).
  std::function<void()> on_send;
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
// Thread-safe. Connections are kept open after a request (HTTP keep-alive)
// and reused by later requests of the same client that have the same
// UrlSource and URL origin: a connection opened under an operator's trust
// never carries a payload's request, and each passed the egress policy
// under the rules of the requests that reuse it. At most kMaxIdleHandles
// sets of idle connections are kept per client. Any status is a
// response (the caller classifies 429/5xx); throws TransientError when no
// response arrived (connection refused or reset, DNS, TLS, deadline
// passed) and PermanentError for a bad URL, an unsupported scheme, a
// response larger than max_response_bytes (field() "max_response_bytes"),
// a connection the egress policy denies (message "... blocked by the
// egress policy (host H)", field() "url"), more than kMaxRedirects
// redirects, or a redirect to another origin that would resend the body.
// Redirects are followed by the client, each hop under the policy; the
// request's headers other than Accept, Accept-Language and Content-Type
// (Authorization, cookies, API keys) and the URL's user:password go only
// to the request's own origin. Proxy settings of the environment
// (http_proxy, ...) are ignored. Error messages name the method and the
// URL without credentials or query; they never quote a response body.
// Never logs headers or bodies.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual HttpResponse Send(const HttpRequest& request) = 0;
};

// The libcurl implementation under `policy`.
std::unique_ptr<HttpClient> MakeHttpClient(EgressPolicy policy);
// The same under EgressPolicy::FromEnvironment(); throws PermanentError
// when FILA_EGRESS_ALLOW is malformed.
std::unique_ptr<HttpClient> MakeHttpClient();

// Seconds a 429/503 response asks to wait (Retry-After as seconds or an
// HTTP date), or -1 when it names none.
double RetryAfterSeconds(const HttpResponse& response);

}  // namespace fila
