#include "fila/core/lifecycle.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace fila {
namespace {

// The decisions only produce what the state machine allows from running; a
// rule added here that breaks it fails loudly in the unit tests, not in a
// guarded UPDATE that silently matches nothing.
TaskState FromRunning(TaskState to) {
  if (!CanTransition(TaskState::kRunning, to)) {
    throw std::logic_error("life cycle: running -> " + std::string(ToString(to)) +
                           " is not a transition");
  }
  return to;
}

}  // namespace

AttemptDecision DecideEndedAttempt(const EndedAttempt& ended, RetryPolicy policy, int64_t now_ms,
                                   std::mt19937_64& rng) {
  policy.max_attempts = ended.max_attempts;  // the task's budget, not the type's default
  AttemptDecision d;
  if (ended.outcome == Outcome::kSucceeded) {
    d.state = TaskState::kSucceeded;
  } else if (ended.cancel_requested) {
    d.state = TaskState::kCancelled;
  } else if (!ended.retryable) {
    d.state = TaskState::kFailed;
  } else if (policy.ShouldRetry(ended.attempt)) {
    d.state = TaskState::kScheduled;
    d.retry_at_ms = now_ms + std::max<int64_t>(policy.Delay(ended.attempt, rng).count(), ended.retry_after_ms);
  } else {
    d.state = TaskState::kDead;
  }
  d.state = FromRunning(d.state);
  return d;
}

std::string_view ToString(ReapReason reason) noexcept {
  switch (reason) {
    case ReapReason::kLeaseExpired: return "lease expired";
    case ReapReason::kWorkerGone: return "worker gone (no longer registered)";
    case ReapReason::kWorkerSilent: return "worker stopped heartbeating";
  }
  return "unknown";
}

std::string_view MetricLabel(ReapReason reason) noexcept {
  return reason == ReapReason::kLeaseExpired ? "lease_expired" : "worker_lost";
}

ReapDecision DecideLostAttempt(const LostAttempt& lost) {
  ReapDecision d;
  d.reason = lost.lease_expired        ? ReapReason::kLeaseExpired
             : !lost.worker_registered ? ReapReason::kWorkerGone
                                       : ReapReason::kWorkerSilent;
  if (lost.cancel_requested) {
    d.state = TaskState::kCancelled;
  } else if (RetryPolicy{.max_attempts = lost.max_attempts}.ShouldRetry(lost.attempt)) {
    d.state = TaskState::kQueued;
  } else {
    d.state = TaskState::kDead;
  }
  d.state = FromRunning(d.state);
  return d;
}

GcraDecision DecideGcra(int64_t tat, int64_t now, uint32_t rate, int64_t period) noexcept {
  if (rate == 0 || period <= 0) return {true, tat, now};
  // The interval may be fractional in the caller's unit: the burst allowance
  // rounds down and the step rounds up, so rounding never lets an extra
  // start through.
  const double interval = static_cast<double>(period) / rate;
  const auto burst = static_cast<int64_t>(interval * (rate - 1));
  GcraDecision d;
  d.admitted = tat - now <= burst;
  d.next_tat = std::max(tat, now) + static_cast<int64_t>(std::ceil(interval));
  d.conforms_at = tat - burst;
  return d;
}

GcraDecision DecideKeyStart(int64_t tat, int64_t now, uint32_t rate, int64_t period) noexcept {
  if (rate > 0 && period > 0) return DecideGcra(tat, now, rate, period);
  return {tat <= now, tat, tat};
}

}  // namespace fila
