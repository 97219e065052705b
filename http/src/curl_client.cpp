#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <mutex>
#include <optional>
#include <vector>

#include "fila/core/errors.h"
#include "fila/core/text_limit.h"
#include "fila/http/http_client.h"

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
// HttpRequest::on_send, once the request's headers were handed to the
// kernel. curl reports that only as debug output (CURLINFO_HEADER_OUT, after
// the write), so a watched transfer is verbose and every other kind of that
// output is dropped here.
struct SendWatch {
  const std::function<void()>* on_send = nullptr;
  bool told = false;
};

int OnDebug(CURL*, curl_infotype type, char*, size_t, void* user) {
  auto* watch = static_cast<SendWatch*>(user);
  if (type == CURLINFO_HEADER_OUT && !watch->told) {
    watch->told = true;
    try {
      (*watch->on_send)();
    } catch (...) {
      // on_send must not throw; the request is on its way regardless.
    }
  }
  return 0;
}

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

// An easy handle driven by a multi handle of its own: the multi's loop
// lets a request be abandoned between polls (HttpRequest::cancelled), and
// the multi keeps the connections the handle opened for the next request.
struct CurlHandle {
  std::unique_ptr<CURLM, decltype(&curl_multi_cleanup)> multi{curl_multi_init(), curl_multi_cleanup};
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> easy{curl_easy_init(), curl_easy_cleanup};
};

// How often a request with a cancel predicate looks at it; without one,
// libcurl's own timers wake the loop.
constexpr int kCancelPollMs = 50;
constexpr int kIdlePollMs = 1000;

// Runs the transfer set up on `h.easy`. True when `cancelled` stopped it
// (removing a handle mid-transfer makes libcurl close its connection).
bool Drive(CurlHandle& h, const std::function<bool()>& cancelled, CURLcode& result) {
  CURLM* multi = h.multi.get();
  CURL* easy = h.easy.get();
  if (curl_multi_add_handle(multi, easy) != CURLM_OK) throw TransientError("curl_multi_add_handle failed");
  struct Detach {
    CURLM* multi;
    CURL* easy;
    ~Detach() { curl_multi_remove_handle(multi, easy); }
  } detach{multi, easy};
  result = CURLE_OK;
  for (;;) {
    int running = 0;
    CURLMcode mc = curl_multi_perform(multi, &running);
    if (mc != CURLM_OK) throw TransientError(std::string("curl_multi_perform: ") + curl_multi_strerror(mc));
    if (running == 0) break;
    if (cancelled && cancelled()) return true;
    mc = curl_multi_poll(multi, nullptr, 0, cancelled ? kCancelPollMs : kIdlePollMs, nullptr);
    if (mc != CURLM_OK) throw TransientError(std::string("curl_multi_poll: ") + curl_multi_strerror(mc));
  }
  int left = 0;
  while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
    if (m->msg == CURLMSG_DONE && m->easy_handle == easy) result = m->data.result;
  }
  return false;
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

    // Connections are shared only between requests that trust them alike.
    const std::string pool_key =
        (request.source == UrlSource::kOperator ? "operator " : "payload ") + home->Origin();
    Lease lease(*this, pool_key);
    std::string url = request.url;
    std::string method = request.method;
    std::string body = request.body;
    UrlParts at = *home;
    for (int redirects = 0;; ++redirects) {
      const bool at_home = at.Origin() == home->Origin();
      Hop hop{&policy_, at.host, request.source == UrlSource::kOperator && at_home};
      Transfer t = Perform(lease.handle(), request, url, method, body, at_home, hop, shown, redirects > 0);
      char* location = nullptr;
      curl_easy_getinfo(lease.handle().easy.get(), CURLINFO_REDIRECT_URL, &location);
      if (!request.follow_redirects || !IsRedirect(t.response.status) || location == nullptr) {
        return std::move(t.response);
      }
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
  // A handle taken from the idle pool (or a new one) for one Send; given
  // back afterwards, with the connections it holds, whatever happened.
  class Lease {
   public:
    Lease(CurlHttpClient& client, std::string key) : client_(client), key_(std::move(key)) {
      handle_ = client_.Take(key_);
      if (!handle_) handle_ = std::make_unique<CurlHandle>();
      if (!handle_->multi || !handle_->easy) throw TransientError("curl_easy_init failed");
    }
    ~Lease() { client_.Give(std::move(key_), std::move(handle_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    CurlHandle& handle() { return *handle_; }

   private:
    CurlHttpClient& client_;
    std::string key_;
    std::unique_ptr<CurlHandle> handle_;
  };

  std::unique_ptr<CurlHandle> Take(const std::string& key) {
    std::lock_guard lock(pool_mutex_);
    for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {
      if (it->first == key) {
        auto handle = std::move(it->second);
        idle_.erase(std::next(it).base());
        return handle;
      }
    }
    return nullptr;
  }

  void Give(std::string key, std::unique_ptr<CurlHandle> handle) {
    std::unique_ptr<CurlHandle> evicted;  // closed outside the lock
    std::lock_guard lock(pool_mutex_);
    if (idle_.size() >= kMaxIdleHandles) {
      evicted = std::move(idle_.front().second);
      idle_.erase(idle_.begin());
    }
    idle_.emplace_back(std::move(key), std::move(handle));
  }

  // One request to `url`, no redirect followed.
  Transfer Perform(CurlHandle& handle, const HttpRequest& request, const std::string& url, const std::string& method,
                   const std::string& body, bool at_home, Hop& hop, const std::string& shown,
                   bool redirected) const {
    // Rounded up: a request cut at its deadline is cut after it, so a
    // caller that asks "did the deadline pass?" when it fails hears yes.
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(request.deadline - SteadyClock::now()) +
                      std::chrono::milliseconds(1);
    if (left.count() <= 1) throw TransientError("deadline passed before " + method + " " + shown);
    if (request.cancelled && request.cancelled()) throw TransientError(method + " " + shown + ": cancelled");
    CURL* h = handle.easy.get();
    // Options only: the connections the handle's multi holds stay open.
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
    SendWatch watch{&request.on_send};
    if (request.on_send) {
      curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, OnDebug);
      curl_easy_setopt(h, CURLOPT_DEBUGDATA, &watch);
      curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    }
    if (method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    CURLcode rc = CURLE_OK;
    if (Drive(handle, request.cancelled, rc)) throw TransientError(method + " " + shown + ": cancelled");
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
  std::mutex pool_mutex_;
  std::vector<std::pair<std::string, std::unique_ptr<CurlHandle>>> idle_;  // oldest first
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
