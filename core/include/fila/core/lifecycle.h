#pragma once

#include <cstdint>
#include <random>
#include <string_view>

#include "fila/core/retry.h"
#include "fila/core/task_state.h"

// The life-cycle rules of a task, in one place: what follows an attempt that
// ended, what the reaper does with an attempt whose worker went away, and the
// rate arithmetic (GCRA) of key limits. The worker, the stores and the
// in-process limiter apply these decisions; none of them decides on its own.
//
// Pure functions: no I/O, no clock, no shared state. The caller passes `now`
// and owns the random source, so every rule is tested by table
// (tests/unit/lifecycle_test.cpp). Thread-safe as long as each thread uses
// its own rng.
namespace fila {

// ---- An attempt that ended on a worker ------------------------------------

struct EndedAttempt {
  Outcome outcome = Outcome::kFailed;
  uint32_t attempt = 0;       // this attempt's number, from 1 (its fencing token)
  uint32_t max_attempts = 0;  // the task's budget (a replay raises it)
  bool retryable = true;      // false for bad input (PermanentError): retrying cannot help
  bool cancel_requested = false;
  // When the handler named the time to try again (RetryLater, an upstream's
  // Retry-After), in ms from now; -1: it did not.
  int64_t retry_after_ms = -1;
};

struct AttemptDecision {
  TaskState state = TaskState::kSucceeded;  // succeeded, scheduled, failed, dead or cancelled
  int64_t retry_at_ms = 0;                  // Unix ms, only with state == scheduled
};

// The next state of the task, first rule that matches:
//   1. succeeded -> succeeded: work that completed is kept, even when it
//      finished late or after a cancel request.
//   2. cancel requested -> cancelled, never retried.
//   3. not retryable -> failed.
//   4. attempts left (policy.ShouldRetry, with the task's budget) ->
//      scheduled at now_ms + policy.Delay(attempt): exponential backoff with
//      full jitter, base and cap from `policy`; never sooner than the
//      handler's retry_after_ms.
//   5. otherwise dead (kept, inspectable, replayable).
// `policy.max_attempts` is ignored: the task's own budget counts. Every state
// returned is one CanTransition(kRunning, state) allows.
AttemptDecision DecideEndedAttempt(const EndedAttempt& ended, RetryPolicy policy, int64_t now_ms,
                                   std::mt19937_64& rng);

// ---- An attempt the reaper takes back -------------------------------------

// Why the reaper took a running task back. Checked in this order: an expired
// lease wins over a gone worker, which wins over a silent one.
enum class ReapReason {
  kLeaseExpired,  // the task's lease ran out (its worker stopped extending it)
  kWorkerGone,    // its worker is no longer registered
  kWorkerSilent,  // its worker's heartbeat is older than the worker timeout
};

// The text stored as the task's last error and the lost attempt's error:
// "lease expired", "worker gone (no longer registered)", "worker stopped
// heartbeating". Producers and operators read these; do not reword them.
std::string_view ToString(ReapReason reason) noexcept;
// The `reason` label of fila_lease_expiries_total: "lease_expired" or
// "worker_lost" (bounded, documented in docs/metrics.md).
std::string_view MetricLabel(ReapReason reason) noexcept;

struct LostAttempt {
  uint32_t attempt = 0;
  uint32_t max_attempts = 0;
  bool cancel_requested = false;
  bool lease_expired = false;      // lease_until is in the past
  bool worker_registered = false;  // the worker's row still exists
};

struct ReapDecision {
  TaskState state = TaskState::kQueued;  // queued (retry), dead or cancelled
  ReapReason reason = ReapReason::kLeaseExpired;
};

// What becomes of a lost attempt (recorded with outcome "lost"):
//   cancel requested -> cancelled; attempts left -> queued at once (no
//   backoff: the attempt did not fail, its worker went away); else dead.
// The caller has already judged the attempt lost (lease expired, or worker
// gone or silent); `lease_expired`/`worker_registered` only pick the reason.
// Every state returned is one CanTransition(kRunning, state) allows.
ReapDecision DecideLostAttempt(const LostAttempt& lost);

// ---- Rate limits (GCRA) ---------------------------------------------------

// Starts are spaced period/rate apart (the emission interval) with a burst of
// `rate` starts: a start conforms when tat - now <= (rate - 1) * interval,
// tat being the key's theoretical arrival time. All times are in one unit of
// the caller's choice (ms from PostgreSQL, steady-clock ticks in process).
struct GcraDecision {
  bool admitted = true;
  // The key's theoretical arrival time after this start: store it when the
  // start is admitted, or when the caller reserves the later slot.
  int64_t next_tat = 0;
  // The earliest time this start conforms (<= now when admitted): the slot to
  // wait for.
  int64_t conforms_at = 0;
};

// rate == 0 or period <= 0: no rate limit (admitted, tat unchanged).
GcraDecision DecideGcra(int64_t tat, int64_t now, uint32_t rate, int64_t period) noexcept;

// A KeyLimiter's start: DecideGcra, except that with no rate a tat still
// ahead is a pause (KeyLimiter::Defer) and waits until it.
GcraDecision DecideKeyStart(int64_t tat, int64_t now, uint32_t rate, int64_t period) noexcept;

}  // namespace fila
