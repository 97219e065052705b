#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <mutex>
#include <optional>

#include "fila/errors.h"
#include "fila/http_client.h"
#include "fila/text_limit.h"

namespace fila {
namespace {

// Where a URL goes: its origin decides which headers it may receive.
struct UrlParts {
  std::string scheme;
  std::string host;  // lower case, no brackets
  std::string port;  // the scheme's default when the URL names none
  std::string Origin() const { return scheme + "://" + host + ":" + port; }
};

using CurlUrl = std::unique_ptr<CURLU, decltype(&curl_url_cleanup)>;

std::string UrlPart(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* text = nullptr;
  if (curl_url_get(u, part, &text, flags) != CURLUE_OK || text == nullptr) return {};
  std::string out(text);
  curl_free(text);
  return out;
}

// The parts of an absolute http(s) URL; nullopt for anything else.
std::optional<UrlParts> ParseUrl(const std::string& url) {
  CurlUrl u(curl_url(), curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return std::nullopt;
  UrlParts parts{UrlPart(u.get(), CURLUPART_SCHEME), UrlPart(u.get(), CURLUPART_HOST),
                 UrlPart(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT)};
  std::transform(parts.host.begin(), parts.host.end(), parts.host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (parts.host.size() >= 2 && parts.host.front() == '[') parts.host = parts.host.substr(1, parts.host.size() - 2);
  while (!parts.host.empty() && parts.host.back() == '.') parts.host.pop_back();
  if ((parts.scheme != "http" && parts.scheme != "https") || parts.host.empty()) return std::nullopt;
  return parts;
}

// `url` without user:password (for a hop to another origin).
std::string WithoutUserInfo(const std::string& url) {
  CurlUrl u(curl_url(), curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return url;
  curl_url_set(u.get(), CURLUPART_USER, nullptr, 0);
  curl_url_set(u.get(), CURLUPART_PASSWORD, nullptr, 0);
  curl_url_set(u.get(), CURLUPART_OPTIONS, nullptr, 0);
  std::string out = UrlPart(u.get(), CURLUPART_URL);
  return out.empty() ? url : out;
}

// Without query string or credentials: either may carry a secret.
std::string SafeUrl(const std::string& url) {
  std::string out = url.substr(0, url.find_first_of("?#"));
  if (auto scheme = out.find("://"); scheme != std::string::npos) {
    if (auto at = out.find('@', scheme); at != std::string::npos && at < out.find('/', scheme + 3)) {
      out.erase(scheme + 3, at - scheme - 2);
    }
  }
  return out;
}

// Headers that carry no credential: the only ones a hop to another origin
// gets (any other header a caller adds may hold a key, whatever its name).
bool CrossOriginSafe(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return n == "accept" || n == "accept-language" || n == "content-type";
}

bool IsRedirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

struct Transfer {
  HttpResponse response;
  size_t limit = 0;
  bool too_large = false;
};

// One hop's connection check, read by OnOpenSocket on curl's thread.
struct Hop {
  const EgressPolicy* policy = nullptr;
  std::string host;
  bool trusted = false;  // the operator's own origin
  bool blocked = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->response.body.size() + n > t->limit) {
    t->too_large = true;
    return 0;  // aborts the transfer
  }
  t->response.body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string line(data, n);
  // A new status line (100 Continue) starts a new header set.
  if (line.rfind("HTTP/", 0) == 0) t->response.headers.clear();
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string value = line.substr(colon + 1);
    auto first = value.find_first_not_of(" \t");
    auto last = value.find_last_not_of(" \t\r\n");
    value = first == std::string::npos ? "" : value.substr(first, last - first + 1);
    t->response.headers[name] = value;
  }
  return n;
}

// Every connection curl opens passes here with the address it resolved
// to: the policy judges what will really be connected, not the name.
curl_socket_t OnOpenSocket(void* user, curlsocktype, curl_sockaddr* address) {
  auto* hop = static_cast<Hop*>(user);
  IpAddress ip;
  uint16_t port = 0;
  if (address->family == AF_INET && address->addrlen >= sizeof(sockaddr_in)) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address->addr);
    std::copy_n(reinterpret_cast<const uint8_t*>(&in->sin_addr), 4, ip.bytes.begin());
    port = ntohs(in->sin_port);
  } else if (address->family == AF_INET6 && address->addrlen >= sizeof(sockaddr_in6)) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address->addr);
    ip.v6 = true;
    std::copy_n(reinterpret_cast<const uint8_t*>(&in6->sin6_addr), 16, ip.bytes.begin());
    port = ntohs(in6->sin6_port);
  } else {
    hop->blocked = true;
    return CURL_SOCKET_BAD;
  }
  if (!hop->trusted && !hop->policy->Allows(hop->host, ip, port)) {
    hop->blocked = true;
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(EgressPolicy policy) : policy_(std::move(policy)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  HttpResponse Send(const HttpRequest& request) override {
    const std::string shown = SafeUrl(request.url);
    if (request.url.size() > kMaxUrlBytes) {
      throw PermanentError("URL of " + std::to_string(request.url.size()) + " bytes: at most " +
                               std::to_string(kMaxUrlBytes) + " are accepted",
                           "url");
    }
    const std::optional<UrlParts> home = ParseUrl(request.url);
    if (!home) throw PermanentError("unsupported URL (only http and https): " + shown, "url");

    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) throw TransientError("curl_easy_init failed");
    std::string url = request.url;
    std::string method = request.method;
    std::string body = request.body;
    UrlParts at = *home;
    for (int redirects = 0;; ++redirects) {
      const bool at_home = at.Origin() == home->Origin();
      Hop hop{&policy_, at.host, request.source == UrlSource::kOperator && at_home};
      Transfer t = Perform(curl.get(), request, url, method, body, at_home, hop, shown, redirects > 0);
      char* location = nullptr;
      curl_easy_getinfo(curl.get(), CURLINFO_REDIRECT_URL, &location);
      if (!IsRedirect(t.response.status) || location == nullptr) return std::move(t.response);
      if (redirects == kMaxRedirects) {
        throw PermanentError(method + " " + shown + ": more than " + std::to_string(kMaxRedirects) + " redirects",
                             "url");
      }
      const std::string next = location;
      const std::optional<UrlParts> parts = next.size() <= kMaxUrlBytes ? ParseUrl(next) : std::nullopt;
      if (!parts) {
        throw PermanentError(method + " " + shown + ": redirected to a URL that is not http(s) or longer than " +
                                 std::to_string(kMaxUrlBytes) + " bytes",
                             "url");
      }
      // What browsers and curl do: a 303, or a 301/302 after a POST, is
      // followed with a GET and no body; 307/308 repeat the request.
      const long s = t.response.status;
      if ((s == 303 && method != "HEAD") || ((s == 301 || s == 302) && method == "POST")) {
        method = "GET";
        body.clear();
      }
      const bool next_home = parts->Origin() == home->Origin();
      if (!next_home && method != "GET" && method != "HEAD") {
        // The body may hold credentials (an ERP's app secret) or the data
        // of the task: it is never resent to an origin the caller did not name.
        throw PermanentError(method + " " + shown + ": redirected to another origin (" +
                                 TruncateText(parts->host, 256) + "); a " + method +
                                 " is not resent elsewhere",
                             "url");
      }
      url = next_home ? next : WithoutUserInfo(next);
      at = *parts;
    }
  }

 private:
  // One request to `url`, no redirect followed.
  Transfer Perform(CURL* h, const HttpRequest& request, const std::string& url, const std::string& method,
                   const std::string& body, bool at_home, Hop& hop, const std::string& shown,
                   bool redirected) const {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(request.deadline - SteadyClock::now());
    if (left.count() <= 0) throw TransientError("deadline passed before " + method + " " + shown);
    curl_easy_reset(h);
    Transfer t;
    t.limit = request.max_response_bytes;
    curl_slist* headers = nullptr;
    for (const auto& [name, value] : request.headers) {
      if (at_home || CrossOriginSafe(name)) headers = curl_slist_append(headers, (name + ": " + value).c_str());
    }
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_guard(headers, curl_slist_free_all);
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    // "" ignores http_proxy, https_proxy, ALL_PROXY: a proxy would hide
    // the real destination from the policy.
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, OnOpenSocket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &hop);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<int64_t>(left.count(), 10000)));
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "fila/0.1");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    if (method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    const CURLcode rc = curl_easy_perform(h);
    if (t.too_large) {
      throw PermanentError("response of " + shown + " is larger than " + std::to_string(request.max_response_bytes) +
                               " bytes",
                           "max_response_bytes");
    }
    if (rc != CURLE_OK) {
      if (hop.blocked) {
        // Before any packet left: a closed port, an open one and a
        // filtered one all end here alike.
        throw PermanentError(method + " " + shown + ": blocked by the egress policy (host " +
                                 TruncateText(hop.host, 256) + (redirected ? ", reached by a redirect" : "") + ")",
                             "url");
      }
      if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
        throw PermanentError("bad URL " + shown + ": " + curl_easy_strerror(rc), "url");
      }
      throw TransientError(method + " " + shown + ": " + curl_easy_strerror(rc));
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &t.response.status);
    return t;
  }

  EgressPolicy policy_;
};

}  // namespace

void ValidatePayloadUrl(const std::string& url, const std::string& field) {
  if (url.size() > kMaxUrlBytes) {
    throw PermanentError(field + " is a URL of " + std::to_string(url.size()) + " bytes; at most " +
                             std::to_string(kMaxUrlBytes) + " are accepted",
                         field);
  }
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    throw PermanentError(field + " must be an http:// or https:// URL", field);
  }
  if (!ParseUrl(url)) throw PermanentError(field + " is not a well-formed URL", field);
}

std::unique_ptr<HttpClient> MakeHttpClient(EgressPolicy policy) {
  return std::make_unique<CurlHttpClient>(std::move(policy));
}

std::unique_ptr<HttpClient> MakeHttpClient() { return MakeHttpClient(EgressPolicy::FromEnvironment()); }

double RetryAfterSeconds(const HttpResponse& response) {
  const std::string value = response.Header("retry-after");
  if (value.empty()) return -1;
  if (std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return value.size() > 9 ? 1e9 : std::stod(value);  // stod throws on a number past double's range
  }
  const time_t when = curl_getdate(value.c_str(), nullptr);
  if (when < 0) return -1;
  return std::max(0.0, std::difftime(when, std::time(nullptr)));
}

}  // namespace fila
