#include "djen_fetch.h"

#include "fila/extract/budget.h"
#include "gazette_fetch.h"

namespace fila::diario {

RetryVerdict ClassifyDjenAnswer(const TryOutcome& outcome) {
  if (outcome.response == nullptr) return RetryVerdict::Retry(outcome.error->what());
  const HttpResponse& resp = *outcome.response;
  if (resp.status >= 200 && resp.status < 300) return RetryVerdict::Done();
  if (resp.status == 408 || resp.status == 429 || resp.status >= 500) {
    const double wait = RetryAfterSeconds(resp);
    return RetryVerdict::Retry("DJEN answered HTTP " + std::to_string(resp.status),
                               std::chrono::milliseconds(wait >= 0 ? static_cast<int64_t>(wait * 1000) : -1));
  }
  return RetryVerdict::Permanent("DJEN answered HTTP " + std::to_string(resp.status));
}

DjenFetch FetchDjenPublications(HttpClient& http, KeyLimiter& limiter, const DiarioOptions& options,
                                const std::string& tribunal_code, const std::string& date, Deadline deadline,
                                const std::function<bool()>& cancelled) {
  RetryingCall call;
  call.what = "DJEN query";
  call.classify = ClassifyDjenAnswer;
  call.policy = {.max_attempts = 3, .base = std::chrono::milliseconds(500), .cap = std::chrono::seconds(10)};
  call.try_timeout = options.download_timeout;
  call.deadline = deadline;
  call.cancelled = cancelled;
  call.limiter = &limiter;
  call.limit_key = HostLimitKey(options.djen_url);
  call.limit = HostLimit(options);
  DjenFetch out;
  size_t text_bytes = 0;
  for (int page = 1;; ++page) {
    if (page > options.djen_max_pages) {
      throw PermanentError("DJEN lists more than " + std::to_string(options.djen_max_pages) + " pages of " +
                               std::to_string(options.djen_page_size) + " publications for " + tribunal_code +
                               " on " + date + " (FILA_DIARIO_DJEN_MAX_PAGES)",
                           "date");
    }
    HttpRequest req;
    req.url = DjenQueryUrl(options.djen_url, tribunal_code, date, page, options.djen_page_size);
    req.source = UrlSource::kOperator;
    req.headers = {{"Accept", "application/json"}};
    req.max_response_bytes = options.max_djen_answer_bytes;
    if (page == 1) out.first_url = req.url;
    const HttpResponse resp = SendWithRetries(http, std::move(req), call);
    DjenPage answer;
    try {
      answer = ParseDjenAnswer(resp.body);
    } catch (const TransientError& e) {
      const std::string type = MediaType(resp.Header("content-type"));
      throw TransientError(std::string(e.what()) + " (page " + std::to_string(page) + ", " +
                           (type.empty() ? std::string("no known content type") : type) + ")");
    }
    ++out.pages;
    out.bytes += resp.body.size();
    const size_t got = answer.items.size();
    for (auto& p : answer.items) {
      text_bytes += p.text.size();
      if (text_bytes > options.budget.max_text_bytes) {
        extract::ThrowOverBudget("DJEN publications of " + std::to_string(text_bytes) + "+ bytes of text",
                                 options.budget.max_text_bytes, "FILA_EXTRACT_MAX_TEXT_BYTES");
      }
      out.publications.push_back(std::move(p));
    }
    const bool all = answer.count >= 0 && static_cast<int64_t>(out.publications.size()) >= answer.count;
    if (got < static_cast<size_t>(options.djen_page_size) || all) break;
  }
  return out;
}

}  // namespace fila::diario
