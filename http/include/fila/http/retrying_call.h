#pragma once

// One HTTP call with retries: the only loop over HTTP retries of the
// handlers. A caller says what its service's answers mean (a classifier),
// how long it may try (a policy) and how to wait (a cancellable sleep);
// the loop does the rest the same way for every service: a deadline on
// each try, backoff with jitter, a server's named wait honoured up to a
// bound, the task's deadline and cancellation, and one error at the end.

#include <chrono>
#include <functional>
#include <string>

#include "fila/core/clock.h"
#include "fila/core/errors.h"
#include "fila/core/key_limiter.h"
#include "fila/core/retry.h"
#include "fila/http/http_client.h"

namespace fila {

// What one try's outcome means.
struct RetryVerdict {
  enum class Kind {
    kDone,       // hand this response back
    kRetry,      // try again (after `wait`, or a backoff)
    kPermanent,  // throw PermanentError(message, field): the request cannot succeed
    kTransient,  // throw TransientError(message) now: the task's own retry decides
  };
  Kind kind = Kind::kDone;
  // What went wrong, short ("HTTP 503", a transport error's message): the
  // last one ends the error when the tries run out. Never a response body.
  std::string reason;
  // kPermanent / kTransient: the whole error message ("" means
  // "<what>: <reason>"); field: PermanentError's field.
  std::string message;
  std::string field;
  // kRetry: the wait the server named (Retry-After, a fault's seconds);
  // negative when it named none and the policy's backoff applies.
  std::chrono::milliseconds wait{-1};
  // kRetry: false when the try did nothing wrong and the server only asked
  // to come back later (Omie's "consumo redundante"): it does not use up an
  // attempt (RetryingCall::max_named_waits bounds those).
  bool counts = true;

  static RetryVerdict Done() { return {}; }
  static RetryVerdict Retry(std::string reason, std::chrono::milliseconds wait = std::chrono::milliseconds(-1)) {
    return {Kind::kRetry, std::move(reason), "", "", wait, true};
  }
  static RetryVerdict Permanent(std::string message, std::string field = "") {
    return {Kind::kPermanent, "", std::move(message), std::move(field), std::chrono::milliseconds(-1), true};
  }
  static RetryVerdict Transient(std::string message) {
    return {Kind::kTransient, "", std::move(message), "", std::chrono::milliseconds(-1), true};
  }
};

// One try: its number (from 1) and either the response or, when none
// arrived, the TransientError the client threw.
struct TryOutcome {
  int attempt = 1;
  const HttpResponse* response = nullptr;
  const TransientError* error = nullptr;
};

// Pure (or with side effects of its caller's own, e.g. pausing an account);
// may also throw an error of its own, which propagates unchanged.
using RetryClassifier = std::function<RetryVerdict(const TryOutcome&)>;

// The rule for services without quirks: 2xx done; 408, 425, 429 and 5xx
// retried, waiting what Retry-After names; any other status permanent
// ("HTTP <status>"); no response (refused, reset, timed out) retried.
RetryVerdict DefaultClassify(const TryOutcome& outcome);

// Waits up to the duration; false when cancelled first
// (TaskContext::SleepFor has this contract).
using SleepFunction = std::function<bool(std::chrono::milliseconds)>;
// A SleepFunction that polls `cancelled` every 50 ms (empty: never cancelled).
SleepFunction PollingSleep(std::function<bool()> cancelled);

// The wait before try n+1 after n failed tries: uniform in
// [c/2, c], c = policy.Ceiling(n) (core's exponential rule). Half jitter,
// not full: an in-slot retry should not hammer a struggling server at once.
std::chrono::milliseconds RetryBackoff(const RetryPolicy& policy, int failed_tries);

// What a call did (for a handler's report); filled as it goes, so it is
// right when the call throws too.
struct CallStats {
  int tries = 0;        // requests sent
  int retries = 0;      // waits that used up an attempt
  int named_waits = 0;  // waits that did not (RetryVerdict::counts false)
  long last_status = 0;  // status of the last response, 0 when none arrived
};

struct RetryingCall {
  // Names the call in errors: "embeddings", "Omie ListarNF", "upload to <url>".
  std::string what = "HTTP call";
  RetryClassifier classify = DefaultClassify;
  // max_attempts (tries that count), backoff base and cap.
  RetryPolicy policy{.max_attempts = 3, .base = std::chrono::milliseconds(500), .cap = std::chrono::seconds(30)};
  // The longest wait a server may name that is waited out in the slot; a
  // longer one ends the call with TransientError so the task's own retry
  // (in PostgreSQL) waits instead of a worker slot.
  std::chrono::milliseconds max_named_wait{std::chrono::seconds(30)};
  // Added to a server's named wait, so as not to come back a hair early.
  std::chrono::milliseconds named_wait_margin{0};
  // Named waits that do not count as attempts, at most.
  int max_named_waits = 50;
  // Each try's own deadline is min(deadline, now + try_timeout).
  std::chrono::milliseconds try_timeout{std::chrono::seconds(30)};
  // Past it no try starts and no wait begins that would end after it.
  Deadline deadline = DeadlineIn(std::chrono::minutes(1));
  // Checked before each try. Empty: never cancelled.
  std::function<bool()> cancelled;
  // Waits between tries (the task context's SleepFor). Empty: PollingSleep(cancelled).
  SleepFunction sleep;
  // When set, each try holds a permit of `limit_key` under `limit` while it
  // runs (the service's concurrency and rate budget).
  KeyLimiter* limiter = nullptr;
  std::string limit_key;
  LimitSpec limit;
  // Runs before each try, outside the permit (e.g. waits out an account's
  // pause); may throw.
  std::function<void()> before_try;
};

// Sends `request` until the classifier says done, and returns that
// response. Throws:
// - PermanentError from the classifier's kPermanent verdict, and any
//   PermanentError of the client (egress policy, bad URL, too large);
// - TransientError "<what>: cancelled" when cancelled before a try,
//   "<what>: cancelled while waiting to retry (<reason>)",
//   "<what>: <reason>; the next try would pass the deadline",
//   "<what>: the server asks to wait N s (<reason>): more than this attempt waits",
//   "<what> failed after N attempts: <reason>" when they run out,
//   and the classifier's kTransient verdict;
// - whatever the classifier, before_try or the limiter throw.
// Thread-safe as far as the client, classifier and hooks are.
HttpResponse SendWithRetries(HttpClient& http, HttpRequest request, const RetryingCall& call,
                             CallStats* stats = nullptr);

}  // namespace fila
