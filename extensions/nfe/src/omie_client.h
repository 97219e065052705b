#pragma once

// A client of the Omie JSON API for one account (private to the handler).
// Every request goes through the account's KeyLimiter key, so the account's
// requests-per-minute and concurrent-requests limits hold for every task
// sharing the limiter.

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "fila/core/clock.h"
#include "fila/core/errors.h"
#include "fila/core/key_limiter.h"
#include "fila/http/http_client.h"
#include "fila/http/retrying_call.h"

namespace fila::nfe {

struct OmieCredentials {
  std::string app_key;
  std::string app_secret;
};

// Reads FILA_OMIE_<ACCOUNT>_APP_KEY / _APP_SECRET from the environment, or
// from files of those names under `secrets_dir` (when not empty). Throws
// PermanentError naming the variable (never a value) when one is missing or
// the account name is not [A-Za-z0-9_]{1,64}.
OmieCredentials LoadCredentials(const std::string& account, const std::string& secrets_dir);

struct OmieOptions {
  std::string base_url = "https://app.omie.com.br/api/v1";
  LimitSpec account_limit{.max_concurrent = 4, .rate = 240, .period = std::chrono::seconds(60)};
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
  int max_attempts = 8;  // per request, for 429/5xx/timeouts
  // The first retry waits 0.5-1 s, doubling up to the cap (RetryBackoff).
  std::chrono::milliseconds backoff_base{1000};
  std::chrono::milliseconds backoff_cap{std::chrono::seconds(30)};
  // A wait the server names beyond this (or beyond the task's deadline)
  // ends the attempt with TransientError: fila retries the task later.
  std::chrono::seconds max_wait{120};
};

enum class FaultKind {
  kNone,           // a normal response
  kEndOfData,      // Client-5113: no (more) records
  kWaitThenRetry,  // redundant / in-flight request: wait `wait`, same request again
  kBackOff,        // 425/429/misuse block: back off the whole account
  kCredentials,    // 403 / bad app key: permanent for the task
  kRequest,        // another Client-<n> fault: permanent for this request
  kTransient,      // 5xx without a fault body, non-JSON body, SOAP-ENV:Server
};

struct Classified {
  FaultKind kind = FaultKind::kNone;
  std::string code;                 // faultcode, or "http <status>"
  std::string text;                 // faultstring (never holds credentials)
  std::chrono::milliseconds wait{0};  // how long the server asks to wait (0 = not said)
  nlohmann::json body;              // the parsed body when kind == kNone
};

// Classifies one HTTP response of the Omie API (pure, for tests). `now` is
// the wall clock (Client-1100 names a Brasília clock time).
Classified ClassifyResponse(const HttpResponse& response, std::chrono::system_clock::time_point now);

// A request-level fault (record not found, validation): this request cannot
// succeed, but the task may go on without it. what() names the call and the
// fault code only; the ERP's own words (faultstring) are kept apart for the
// task's report, never for an error.
class OmieRequestError final : public PermanentError {
 public:
  OmieRequestError(const std::string& message, std::string fault_text)
      : PermanentError(message), fault_text_(std::move(fault_text)) {}
  const std::string& FaultText() const { return fault_text_; }

 private:
  std::string fault_text_;
};

struct OmieCounters {
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> retries{0};  // 429/5xx/timeouts retried with backoff
  std::atomic<int64_t> waits{0};    // waits the server named
};

class OmieClient final {
 public:
  // `cancelled` is polled while waiting; safe from any thread.
  OmieClient(HttpClient& http, KeyLimiter& limiter, std::string account, OmieCredentials credentials,
             OmieOptions options, Deadline deadline, std::function<bool()> cancelled);

  // POSTs {"call": method, "app_key", "app_secret", "param": [param]} to
  // base_url/path/. Returns the response, or nullopt at end of data
  // (Client-5113). Retries what is worth retrying within the deadline.
  // Throws PermanentError for rejected credentials, OmieRequestError for a
  // request-level fault, TransientError when retries or time run out.
  // Thread-safe.
  std::optional<nlohmann::json> Call(const std::string& path, const std::string& method,
                                     const nlohmann::json& param);

  const OmieCounters& Counters() const { return counters_; }
  const std::string& Account() const { return account_; }

 private:
  // Sleeps until `until` in slices, false when cancelled or past the deadline.
  bool WaitUntil(Deadline until);
  // What one try's outcome means for the retrying call (ClassifyResponse
  // plus the account-wide pause of a block); `answer` keeps the parsed
  // response.
  RetryVerdict Classify(const std::string& method, const TryOutcome& outcome, Classified& answer);

  HttpClient& http_;
  KeyLimiter& limiter_;
  std::string account_;
  std::string limit_key_;
  OmieCredentials credentials_;
  OmieOptions options_;
  RetryPolicy policy_;
  Deadline deadline_;
  std::function<bool()> cancelled_;
  OmieCounters counters_;
};

}  // namespace fila::nfe
