#include "fila/http/retrying_call.h"

#include <algorithm>
#include <optional>
#include <random>
#include <thread>

namespace fila {
namespace {

using std::chrono::milliseconds;

std::string Seconds(milliseconds d) { return std::to_string((d.count() + 999) / 1000); }

[[noreturn]] void Throw(const RetryVerdict& v, const std::string& what) {
  const std::string message = v.message.empty() ? what + ": " + v.reason : v.message;
  if (v.kind == RetryVerdict::Kind::kPermanent) throw PermanentError(message, v.field);
  throw TransientError(message);
}

}  // namespace

RetryVerdict DefaultClassify(const TryOutcome& outcome) {
  if (outcome.response == nullptr) {
    return RetryVerdict::Retry(outcome.error != nullptr ? outcome.error->what() : "no response");
  }
  const long s = outcome.response->status;
  if (s >= 200 && s < 300) return RetryVerdict::Done();
  const std::string reason = "HTTP " + std::to_string(s);
  if (s == 408 || s == 425 || s == 429 || s >= 500) {
    const double after = RetryAfterSeconds(*outcome.response);
    return RetryVerdict::Retry(reason, after >= 0 ? milliseconds(static_cast<int64_t>(std::min(after, 1e9) * 1000))
                                                  : milliseconds(-1));
  }
  RetryVerdict v = RetryVerdict::Permanent("");
  v.reason = reason;
  return v;
}

SleepFunction PollingSleep(std::function<bool()> cancelled) {
  return [cancelled = std::move(cancelled)](milliseconds duration) {
    const auto until = SteadyClock::now() + duration;
    while (!(cancelled && cancelled())) {
      const auto now = SteadyClock::now();
      if (now >= until) return true;
      std::this_thread::sleep_for(std::min<SteadyClock::duration>(until - now, milliseconds(50)));
    }
    return false;
  };
}

milliseconds RetryBackoff(const RetryPolicy& policy, int failed_tries) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const int64_t ceiling = policy.Ceiling(static_cast<uint32_t>(std::max(failed_tries, 1))).count();
  return milliseconds(std::uniform_int_distribution<int64_t>(ceiling / 2, ceiling)(rng));
}

HttpResponse SendWithRetries(HttpClient& http, HttpRequest request, const RetryingCall& call, CallStats* stats) {
  CallStats local;
  CallStats& st = stats != nullptr ? *stats : local;
  const SleepFunction sleep = call.sleep ? call.sleep : PollingSleep(call.cancelled);
  const int max_attempts = static_cast<int>(std::max<uint32_t>(call.policy.max_attempts, 1));
  int failed = 0;  // tries that used up an attempt
  const std::function<void()> caller_on_send = request.on_send;
  while (true) {
    if (call.cancelled && call.cancelled()) throw TransientError(call.what + ": cancelled");
    if (call.before_try) call.before_try();
    std::optional<HttpResponse> response;
    std::optional<TransientError> error;
    {
      Permit permit;
      if (call.limiter != nullptr) {
        permit = call.limiter->Acquire(call.limit_key, call.limit, call.deadline, call.cancelled);
      }
      request.deadline = std::min(call.deadline, DeadlineIn(call.try_timeout));
      // A host's minimum gap counts from the request leaving (KeyLimiter).
      // Watching for it costs the transfer curl's debug callbacks: only
      // when someone listens.
      if (call.limiter != nullptr && call.limit.min_gap.count() > 0) {
        request.on_send = [&permit, &caller_on_send] {
          permit.Sent();
          if (caller_on_send) caller_on_send();
        };
      }
      ++st.tries;
      try {
        response = http.Send(request);
        st.last_status = response->status;
      } catch (const TransientError& e) {
        error = e;
        st.last_status = 0;
      }
      request.on_send = caller_on_send;
    }
    const TryOutcome outcome{failed + st.named_waits + 1, response ? &*response : nullptr,
                             error ? &*error : nullptr};
    RetryVerdict v = call.classify(outcome);
    switch (v.kind) {
      case RetryVerdict::Kind::kDone:
        if (response) return std::move(*response);
        throw *error;  // a classifier that accepts no response has nothing to hand back
      case RetryVerdict::Kind::kPermanent:
      case RetryVerdict::Kind::kTransient:
        Throw(v, call.what);
      case RetryVerdict::Kind::kRetry:
        break;
    }
    milliseconds wait = v.wait;
    if (wait.count() >= 0 && wait > call.max_named_wait) {
      throw TransientError(call.what + ": the server asks to wait " + Seconds(wait) + " s (" + v.reason +
                           "): more than this attempt waits");
    }
    if (v.counts) {
      if (++failed >= max_attempts) {
        throw TransientError(call.what + " failed after " + std::to_string(failed) + " attempts: " + v.reason);
      }
      ++st.retries;
    } else {
      if (st.named_waits >= call.max_named_waits) {
        throw TransientError(call.what + ": the server asked to wait " + std::to_string(st.named_waits + 1) +
                             " times: " + v.reason);
      }
      ++st.named_waits;
    }
    wait = wait.count() >= 0 ? wait + call.named_wait_margin : RetryBackoff(call.policy, failed);
    if (SteadyClock::now() + wait >= call.deadline) {
      throw TransientError(call.what + ": " + v.reason + "; the next try would pass the deadline");
    }
    if (!sleep(wait)) throw TransientError(call.what + ": cancelled while waiting to retry (" + v.reason + ")");
  }
}

}  // namespace fila
