#include "gazette_fetch.h"

#include <algorithm>

#include "fila/diario/pdf_text.h"
#include "fila/diario/tjro_site.h"

namespace fila::diario {

std::string MediaType(const std::string& header) {
  std::string type = header.substr(0, header.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  for (char& c : type) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  const bool token = !type.empty() && type.size() <= 80 && std::count(type.begin(), type.end(), '/') == 1 &&
                     std::all_of(type.begin(), type.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' || c == '.' ||
                              c == '+' || c == '-' || c == '_';
                     });
  return token ? type : std::string();
}


RetryVerdict ClassifyGazetteAnswer(const TryOutcome& outcome) {
  if (outcome.response == nullptr) return RetryVerdict::Transient(outcome.error->what());
  const HttpResponse& resp = *outcome.response;
  if (resp.status == 404 || resp.status == 410) return RetryVerdict::Done();
  if (resp.status == 403 || resp.status == 408 || resp.status == 429 || resp.status >= 500) {
    const double wait = RetryAfterSeconds(resp);
    return RetryVerdict::Transient("tribunal answered HTTP " + std::to_string(resp.status) +
                                   (wait >= 0 ? " (Retry-After " + std::to_string(static_cast<int>(wait)) + " s)"
                                              : ""));
  }
  if (resp.status < 200 || resp.status >= 300) {
    return RetryVerdict::Permanent("tribunal answered HTTP " + std::to_string(resp.status));
  }
  if (!LooksLikePdf(resp.body)) {
    const std::string type = MediaType(resp.Header("content-type"));
    return RetryVerdict::Transient("the tribunal answered with something that is not a PDF (" +
                                   (type.empty() ? std::string("no known content type") : type) +
                                   "): likely its anti-bot block page");
  }
  return RetryVerdict::Done();
}

HttpResponse FetchGazette(HttpClient& http, KeyLimiter& limiter, const DiarioOptions& options,
                          const std::string& url, UrlSource source, Deadline deadline,
                          const std::function<bool()>& cancelled) {
  HttpRequest req;
  req.url = url;
  req.source = source;
  req.headers = {{"Accept", "application/pdf"}};
  req.max_response_bytes = options.max_pdf_bytes;
  RetryingCall call;
  call.what = "gazette download";
  call.policy.max_attempts = 1;
  call.try_timeout = options.download_timeout;
  call.deadline = deadline;
  call.cancelled = cancelled;
  call.limiter = &limiter;
  call.limit_key = HostLimitKey(url);
  // A host that says "slow down" is left alone by every worker for a while.
  call.classify = PausingHostOnTrouble(ClassifyGazetteAnswer, limiter, call.limit_key, options.host_backoff);
  call.limit = HostLimit(options);
  return SendWithRetries(http, std::move(req), call);
}

LimitSpec HostLimit(const DiarioOptions& options) {
  return {.max_concurrent = options.host_concurrency, .min_gap = options.host_min_interval};
}

std::string HostLimitKey(const std::string& url) {
  size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  size_t end = url.find_first_of("/?#", start);
  std::string host = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (auto at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);  // no credentials in keys
  for (char& c : host) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return "diario-host:" + host;
}

}  // namespace fila::diario
