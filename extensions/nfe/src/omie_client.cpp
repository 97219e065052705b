#include "omie_client.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>

namespace fila::nfe {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

std::string Secret(const std::string& name, const std::string& secrets_dir) {
  if (const char* v = std::getenv(name.c_str()); v != nullptr && *v != '\0') return v;
  if (secrets_dir.empty()) return {};
  std::ifstream in(secrets_dir + "/" + name, std::ios::binary);
  if (!in) return {};
  std::ostringstream s;
  s << in.rdbuf();
  std::string value = s.str();
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r' || value.back() == ' ')) {
    value.pop_back();
  }
  return value;
}

// An account that got a 425/429/misuse block is paused for every task of
// this process, not only the one that saw the fault.
class AccountPauses final {
 public:
  static AccountPauses& Instance() {
    static AccountPauses pauses;
    return pauses;
  }
  void PauseUntil(const std::string& account, Deadline until) {
    std::lock_guard lock(mutex_);
    auto& at = until_[account];
    at = std::max(at, until);
  }
  Deadline Until(const std::string& account) {
    std::lock_guard lock(mutex_);
    auto it = until_.find(account);
    return it == until_.end() ? Deadline{} : it->second;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, Deadline> until_;
};

std::optional<int64_t> SecondsInText(const std::string& text) {
  static const std::regex kSeconds(R"((\d+)\s+segundos)");
  std::smatch m;
  if (std::regex_search(text, m, kSeconds)) return std::stoll(m[1].str());
  return std::nullopt;
}

// "... tentar novamente às 19:04:08": a Brasília clock time (UTC-3, no
// daylight saving since 2019). The wait to the next such time.
std::optional<milliseconds> WaitUntilClock(const std::string& text,
                                           std::chrono::system_clock::time_point now) {
  static const std::regex kClock(R"((\d{2}):(\d{2}):(\d{2}))");
  std::smatch m;
  if (!std::regex_search(text, m, kClock)) return std::nullopt;
  const int64_t target = std::stoll(m[1].str()) * 3600 + std::stoll(m[2].str()) * 60 + std::stoll(m[3].str());
  const int64_t unix_ms = std::chrono::duration_cast<milliseconds>(now.time_since_epoch()).count();
  const int64_t day_ms = 86400 * 1000;
  const int64_t local_ms = ((unix_ms - 3 * 3600 * 1000) % day_ms + day_ms) % day_ms;
  int64_t wait = target * 1000 - local_ms;
  // A time a little in the past is "now"; far in the past is tomorrow.
  if (wait < -12 * 3600 * 1000) wait += day_ms;
  return milliseconds(std::max<int64_t>(wait, 0));
}

bool Contains(const std::string& haystack, const char* needle) {
  return haystack.find(needle) != std::string::npos;
}

// A faultcode as errors may show it ("SOAP-ENV:Client-105"): a short
// token, or "fault" when the answer holds something else there.
std::string ShownCode(const std::string& code) {
  const bool token = !code.empty() && code.size() <= 64 &&
                     std::all_of(code.begin(), code.end(), [](unsigned char c) {
                       return std::isalnum(c) || c == ':' || c == '-' || c == '_' || c == '.' || c == ' ';
                     });
  return token ? code : "fault";
}

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

OmieCredentials LoadCredentials(const std::string& account, const std::string& secrets_dir) {
  const bool ok = !account.empty() && account.size() <= 64 &&
                  std::all_of(account.begin(), account.end(),
                              [](unsigned char c) { return std::isalnum(c) || c == '_'; });
  if (!ok) throw PermanentError("account must be 1-64 of A-Z, a-z, 0-9 and '_'", "payload.account");
  const std::string prefix = "FILA_OMIE_" + Upper(account);
  OmieCredentials c{Secret(prefix + "_APP_KEY", secrets_dir), Secret(prefix + "_APP_SECRET", secrets_dir)};
  for (const auto& [value, name] : {std::pair{&c.app_key, prefix + "_APP_KEY"},
                                    std::pair{&c.app_secret, prefix + "_APP_SECRET"}}) {
    if (value->empty()) {
      // The producer sees this: no variable or file names (where the
      // worker keeps secrets is the operator's business: docs/nfe-download.md).
      (void)name;
      throw PermanentError("Omie account '" + account + "' has no credentials on this worker",
                           "payload.account");
    }
  }
  return c;
}

Classified ClassifyResponse(const HttpResponse& response, std::chrono::system_clock::time_point now) {
  Classified c;
  const long status = response.status;
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  const bool has_fault = body.is_object() && body.contains("faultstring");
  if (has_fault) {
    c.code = body.value("faultcode", std::string());
    c.text = body["faultstring"].is_string() ? body["faultstring"].get<std::string>() : body["faultstring"].dump();
  } else {
    c.code = "http " + std::to_string(status);
  }
  const double retry_after = RetryAfterSeconds(response);
  if (retry_after >= 0) c.wait = milliseconds(static_cast<int64_t>(retry_after * 1000));

  if (status == 403 || (has_fault && Contains(c.text, "chave de acesso"))) {
    c.kind = FaultKind::kCredentials;
    return c;
  }
  if (has_fault) {
    if (Contains(c.code, "Client-5113")) {
      c.kind = FaultKind::kEndOfData;
    } else if (EndsWith(c.code, "Client-6") || Contains(c.text, "redundante") ||
               Contains(c.text, "REDUNDANT")) {
      c.kind = FaultKind::kWaitThenRetry;
      c.wait = seconds(SecondsInText(c.text).value_or(60));
    } else if (Contains(c.code, "Client-1100")) {
      c.kind = FaultKind::kWaitThenRetry;
      c.wait = WaitUntilClock(c.text, now).value_or(seconds(10));
    } else if (Contains(c.code, "MISUSE_API_PROCESS") || Contains(c.text, "bloqueada") || status == 425 ||
               status == 429) {
      c.kind = FaultKind::kBackOff;
      if (auto s = SecondsInText(c.text)) c.wait = seconds(*s);
    } else if (Contains(c.code, "Client-")) {
      // A validation or not-found fault arrives as HTTP 500 too: retrying
      // the same request cannot help.
      c.kind = FaultKind::kRequest;
    } else {
      c.kind = FaultKind::kTransient;
    }
    return c;
  }
  if (status == 425 || status == 429) {
    c.kind = FaultKind::kBackOff;
  } else if (status >= 200 && status < 300 && body.is_object()) {
    c.kind = FaultKind::kNone;
    c.body = std::move(body);
  } else if (status >= 500 || (status >= 200 && status < 300)) {
    // A proxy's HTML page, a truncated body, a gateway error.
    c.kind = FaultKind::kTransient;
    if (status < 300) c.text = "response is not a JSON object";
  } else {
    c.kind = FaultKind::kRequest;
    c.text = "HTTP " + std::to_string(status);
  }
  return c;
}

OmieClient::OmieClient(HttpClient& http, KeyLimiter& limiter, std::string account,
                       OmieCredentials credentials, OmieOptions options, Deadline deadline,
                       std::function<bool()> cancelled)
    : http_(http),
      limiter_(limiter),
      account_(std::move(account)),
      limit_key_("omie:" + account_),
      credentials_(std::move(credentials)),
      options_(std::move(options)),
      policy_{.max_attempts = static_cast<uint32_t>(std::max(options_.max_attempts, 1)),
              .base = options_.backoff_base,
              .cap = options_.backoff_cap},
      deadline_(deadline),
      cancelled_(std::move(cancelled)) {}

bool OmieClient::WaitUntil(Deadline until) {
  if (until > deadline_) return false;
  return SteadyClock::now() >= until ||
         PollingSleep(cancelled_)(std::chrono::duration_cast<milliseconds>(until - SteadyClock::now()));
}

RetryVerdict OmieClient::Classify(const std::string& method, const TryOutcome& outcome, Classified& c) {
  if (outcome.response == nullptr) return RetryVerdict::Retry(outcome.error->what());
  const HttpResponse& response = *outcome.response;
  c = ClassifyResponse(response, std::chrono::system_clock::now());
  // Classified on the ERP's words, reported by its code: an error never
  // quotes the answer. (Without a fault, `text` is ours: "response is not
  // a JSON object".)
  const std::string status = "HTTP " + std::to_string(response.status);
  const std::string reason =
      method + ": " +
      (c.code.rfind("http ", 0) == 0 ? status + (c.text.empty() || c.text == status ? "" : ", " + c.text)
                                     : ShownCode(c.code) + " (" + status + ")");
  switch (c.kind) {
    case FaultKind::kNone:
    case FaultKind::kEndOfData:
      return RetryVerdict::Done();
    case FaultKind::kCredentials:
      return RetryVerdict::Permanent("Omie rejected the app key/secret of account '" + account_ + "' (" +
                                     ShownCode(c.code) + ")");
    case FaultKind::kRequest:
      throw OmieRequestError(reason, c.text);
    case FaultKind::kWaitThenRetry: {
      // Not a failure of ours: the server named the wait.
      RetryVerdict v = RetryVerdict::Retry(reason, c.wait);
      v.counts = false;
      return v;
    }
    case FaultKind::kBackOff: {
      // The whole account waits, every task of this process with it.
      const milliseconds pause = c.wait.count() > 0 ? c.wait : policy_.Ceiling(static_cast<uint32_t>(outcome.attempt));
      AccountPauses::Instance().PauseUntil(account_, DeadlineIn(pause));
      return RetryVerdict::Retry(reason, c.wait.count() > 0 ? c.wait : milliseconds(-1));
    }
    case FaultKind::kTransient:
      break;
  }
  return RetryVerdict::Retry(reason);
}

std::optional<nlohmann::json> OmieClient::Call(const std::string& path, const std::string& method,
                                               const nlohmann::json& param) {
  nlohmann::json envelope = {{"call", method},
                             {"app_key", credentials_.app_key},
                             {"app_secret", credentials_.app_secret},
                             {"param", nlohmann::json::array({param})}};
  HttpRequest request;
  request.method = "POST";
  request.url = options_.base_url + "/" + path;
  if (request.url.back() != '/') request.url += '/';
  // FILA_OMIE_API_URL is the operator's; the body holds the app secret, so
  // the client never resends it to another origin on a redirect.
  request.source = UrlSource::kOperator;
  request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
  request.body = envelope.dump();

  RetryingCall call;
  call.what = "Omie " + method;
  Classified answer;  // the last try's, parsed once
  call.classify = [this, &method, &answer](const TryOutcome& outcome) { return Classify(method, outcome, answer); };
  call.policy = policy_;
  call.max_named_wait = options_.max_wait;
  // A margin of a second keeps us from arriving a hair early.
  call.named_wait_margin = std::chrono::seconds(1);
  call.try_timeout = options_.request_timeout;
  call.deadline = deadline_;
  call.cancelled = cancelled_;
  call.limiter = &limiter_;
  call.limit_key = limit_key_;
  call.limit = options_.account_limit;
  call.before_try = [this] {
    if (!WaitUntil(AccountPauses::Instance().Until(account_))) {
      throw TransientError("Omie account " + account_ + " is blocked past this attempt's deadline");
    }
  };
  CallStats stats;
  struct Count {  // the counters hold what was done, whatever the outcome
    OmieCounters& counters;
    CallStats& stats;
    ~Count() {
      counters.requests.fetch_add(stats.tries);
      counters.retries.fetch_add(stats.retries);
      counters.waits.fetch_add(stats.named_waits);
    }
  } count{counters_, stats};
  SendWithRetries(http_, std::move(request), call, &stats);
  if (answer.kind == FaultKind::kEndOfData) return std::nullopt;
  return std::move(answer.body);
}

}  // namespace fila::nfe
