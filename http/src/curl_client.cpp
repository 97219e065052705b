#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <mutex>

#include "fila/errors.h"
#include "fila/http_client.h"

namespace fila {
namespace {

struct Transfer {
  HttpResponse response;
  size_t limit = 0;
  bool too_large = false;
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
  // A new status line (redirect, 100 Continue) starts a new header set.
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

class CurlHttpClient final : public HttpClient {
 public:
  CurlHttpClient() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  HttpResponse Send(const HttpRequest& request) override {
    if (request.url.rfind("http://", 0) != 0 && request.url.rfind("https://", 0) != 0) {
      throw PermanentError("unsupported URL (only http and https): " + SafeUrl(request.url), "url");
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        request.deadline - SteadyClock::now());
    if (left.count() <= 0) throw TransientError("deadline passed before " + SafeUrl(request.url));

    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) throw TransientError("curl_easy_init failed");
    CURL* h = curl.get();
    Transfer t;
    t.limit = request.max_response_bytes;
    curl_slist* headers = nullptr;
    for (const auto& [name, value] : request.headers) {
      headers = curl_slist_append(headers, (name + ": " + value).c_str());
    }
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_guard(headers,
                                                                            curl_slist_free_all);
    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
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
    if (request.method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    }
    const CURLcode rc = curl_easy_perform(h);
    if (t.too_large) {
      throw PermanentError("response of " + SafeUrl(request.url) + " is larger than " +
                           std::to_string(request.max_response_bytes) + " bytes");
    }
    if (rc != CURLE_OK) {
      if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
        throw PermanentError(std::string("bad URL ") + SafeUrl(request.url) + ": " +
                             curl_easy_strerror(rc), "url");
      }
      throw TransientError(request.method + " " + SafeUrl(request.url) + ": " + curl_easy_strerror(rc));
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &t.response.status);
    return std::move(t.response);
  }

 private:
  // Without query string or credentials: either may carry a secret.
  static std::string SafeUrl(const std::string& url) {
    std::string out = url.substr(0, url.find_first_of("?#"));
    if (auto scheme = out.find("://"); scheme != std::string::npos) {
      if (auto at = out.find('@', scheme); at != std::string::npos && at < out.find('/', scheme + 3)) {
        out.erase(scheme + 3, at - scheme - 2);
      }
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<HttpClient> MakeHttpClient() { return std::make_unique<CurlHttpClient>(); }

double RetryAfterSeconds(const HttpResponse& response) {
  const std::string value = response.Header("retry-after");
  if (value.empty()) return -1;
  if (std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return std::stod(value);
  }
  const time_t when = curl_getdate(value.c_str(), nullptr);
  if (when < 0) return -1;
  return std::max(0.0, std::difftime(when, std::time(nullptr)));
}

}  // namespace fila
