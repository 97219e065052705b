#include "fila/diario/tjro_site.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "fila/core/config.h"
#include "fila/core/errors.h"
#include "gazette_fetch.h"

namespace fila::diario {
namespace {

RetryingCall HostCall(const char* what, KeyLimiter& limiter, const DiarioOptions& options, const std::string& url,
                      RetryClassifier classify, Deadline deadline, const std::function<bool()>& cancelled) {
  RetryingCall call;
  call.what = what;
  call.limiter = &limiter;
  call.limit_key = HostLimitKey(url);
  call.limit = HostLimit(options);
  call.classify = PausingHostOnTrouble(std::move(classify), limiter, call.limit_key, options.host_backoff);
  // One try: the caller's own retry (the task's, or the backfill run
  // again) is the backoff the site gets.
  call.policy.max_attempts = 1;
  call.try_timeout = options.download_timeout;
  call.deadline = deadline;
  call.cancelled = cancelled;
  return call;
}

}  // namespace

RetryClassifier PausingHostOnTrouble(RetryClassifier inner, KeyLimiter& limiter, std::string limit_key,
                                     std::chrono::milliseconds backoff) {
  return [inner = std::move(inner), &limiter, key = std::move(limit_key), backoff](const TryOutcome& outcome) {
    RetryVerdict v = inner(outcome);
    const bool trouble = v.kind == RetryVerdict::Kind::kTransient || v.kind == RetryVerdict::Kind::kRetry;
    if (trouble && outcome.response != nullptr && backoff.count() > 0) {
      const double named = RetryAfterSeconds(*outcome.response);
      const auto asked = std::chrono::milliseconds(static_cast<int64_t>(std::min(named, 600.0) * 1000));
      const auto pause = std::max(backoff, asked);
      spdlog::warn("diario: {} answered HTTP {} ({}); pausing it for every worker for {} ms", key,
                   outcome.response->status, v.message.empty() ? v.reason : v.message, pause.count());
      limiter.Defer(key, pause);
    }
    return v;
  };
}

RetryVerdict ClassifyIndexAnswer(const TryOutcome& outcome) {
  if (outcome.response == nullptr) return RetryVerdict::Transient(outcome.error->what());
  const HttpResponse& resp = *outcome.response;
  if (resp.status == 403 || resp.status == 408 || resp.status == 429 || resp.status >= 500) {
    return RetryVerdict::Transient("the index answered HTTP " + std::to_string(resp.status));
  }
  if (resp.status < 200 || resp.status >= 300) {
    return RetryVerdict::Permanent("the index answered HTTP " + std::to_string(resp.status) +
                                       " (is FILA_DIARIO_TJRO_INDEX_URL right?)",
                                   "FILA_DIARIO_TJRO_INDEX_URL");
  }
  const size_t first = resp.body.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
  if (first == std::string::npos || resp.body[first] != '[') {
    const std::string type = MediaType(resp.Header("content-type"));
    return RetryVerdict::Transient("the index answered something that is not a JSON array (" +
                                   (type.empty() ? std::string("no known content type") : type) +
                                   "): likely the anti-bot block page");
  }
  return RetryVerdict::Done();
}

std::string FetchTjroIndex(HttpClient& http, KeyLimiter& limiter, const DiarioOptions& options, const TjroSite& site,
                           int year, Deadline deadline, const std::function<bool()>& cancelled) {
  HttpRequest req;
  req.url = IndexUrlOfYear(site.index_url, year);
  req.source = UrlSource::kOperator;
  req.headers = {{"Accept", "application/json"}};
  req.max_response_bytes = kMaxIndexBytes;
  // A redirect would leave the operator's host for wherever the site says.
  req.follow_redirects = false;
  RetryingCall call = HostCall("TJRO index", limiter, options, req.url, ClassifyIndexAnswer, deadline, cancelled);
  return SendWithRetries(http, std::move(req), call).body;
}

std::optional<Edition> FetchTjroLatest(HttpClient& http, KeyLimiter& limiter, const DiarioOptions& options,
                                       const TjroSite& site, Deadline deadline,
                                       const std::function<bool()>& cancelled) {
  HttpRequest req;
  req.url = site.latest_url;
  req.source = UrlSource::kOperator;
  req.follow_redirects = false;
  req.max_response_bytes = size_t{1} << 20;
  auto classify = [](const TryOutcome& outcome) {
    if (outcome.response != nullptr && outcome.response->status >= 300 && outcome.response->status < 400) {
      return RetryVerdict::Done();
    }
    // 2xx: a page, not a redirect to the issue: nothing to learn from it.
    if (outcome.response != nullptr && outcome.response->status >= 200 && outcome.response->status < 300) {
      return RetryVerdict::Done();
    }
    return ClassifyIndexAnswer(outcome);
  };
  RetryingCall call = HostCall("TJRO latest issue", limiter, options, req.url, classify, deadline, cancelled);
  const HttpResponse resp = SendWithRetries(http, std::move(req), call);
  const std::string location = resp.Header("location");
  if (resp.status < 300 || resp.status >= 400 || location.empty()) return std::nullopt;
  const std::string url = ResolveOnTribunalHost(site.Origin(), location, "ultimo-diario.php's Location");
  return EditionFromPath(url.substr(site.Origin().size()));
}

}  // namespace fila::diario
