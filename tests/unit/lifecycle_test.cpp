#include "fila/core/lifecycle.h"

#include <gtest/gtest.h>

#include <string>

namespace fila {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kNow = 1'700'000'000'000;

std::string Name(const EndedAttempt& a) {
  return std::string(ToString(a.outcome)) + " attempt " + std::to_string(a.attempt) + "/" +
         std::to_string(a.max_attempts) + (a.retryable ? " retryable" : " permanent") +
         (a.cancel_requested ? " cancel-requested" : "");
}

// The expected state, written out as the rules read in lifecycle.h.
TaskState Expected(const EndedAttempt& a) {
  if (a.outcome == Outcome::kSucceeded) return TaskState::kSucceeded;
  if (a.cancel_requested) return TaskState::kCancelled;
  if (!a.retryable) return TaskState::kFailed;
  return a.attempt < a.max_attempts ? TaskState::kScheduled : TaskState::kDead;
}

TEST(LifecycleEndedAttempt, EveryCombination) {
  const RetryPolicy policy{.max_attempts = 99, .base = milliseconds(100), .cap = milliseconds(1000)};
  std::mt19937_64 rng(7);
  int rows = 0;
  for (Outcome outcome : {Outcome::kSucceeded, Outcome::kFailed, Outcome::kTimedOut,
                          Outcome::kCancelled, Outcome::kLost}) {
    for (uint32_t attempt : {1u, 2u, 3u, 4u}) {  // max 3: attempts left, none, over budget
      for (bool retryable : {true, false}) {
        for (bool cancel : {false, true}) {
          const EndedAttempt a{outcome, attempt, 3, retryable, cancel};
          const AttemptDecision d = DecideEndedAttempt(a, policy, kNow, rng);
          EXPECT_EQ(d.state, Expected(a)) << Name(a);
          EXPECT_TRUE(CanTransition(TaskState::kRunning, d.state)) << Name(a);
          if (d.state == TaskState::kScheduled) {
            EXPECT_GE(d.retry_at_ms, kNow) << Name(a);
            EXPECT_LE(d.retry_at_ms, kNow + policy.Ceiling(attempt).count()) << Name(a);
          } else {
            EXPECT_EQ(d.retry_at_ms, 0) << Name(a);
          }
          ++rows;
        }
      }
    }
  }
  EXPECT_EQ(rows, 5 * 4 * 2 * 2);
}

TEST(LifecycleEndedAttempt, TheTasksBudgetCountsNotThePolicys) {
  std::mt19937_64 rng(1);
  const RetryPolicy one_attempt{.max_attempts = 1};
  EXPECT_EQ(DecideEndedAttempt({Outcome::kFailed, 4, 5, true, false}, one_attempt, kNow, rng).state,
            TaskState::kScheduled);
  const RetryPolicy many{.max_attempts = 50};
  EXPECT_EQ(DecideEndedAttempt({Outcome::kFailed, 5, 5, true, false}, many, kNow, rng).state,
            TaskState::kDead);
}

TEST(LifecycleEndedAttempt, BackoffGrowsToTheCapWithFullJitter) {
  const RetryPolicy policy{.base = milliseconds(100), .cap = milliseconds(400)};
  std::mt19937_64 rng(42);
  for (uint32_t attempt = 1; attempt <= 6; ++attempt) {
    const int64_t ceiling = std::min<int64_t>(100LL << (attempt - 1), 400);
    int64_t lowest = ceiling, highest = 0;
    for (int i = 0; i < 300; ++i) {
      const auto d = DecideEndedAttempt({Outcome::kTimedOut, attempt, 10, true, false}, policy, kNow, rng);
      ASSERT_EQ(d.state, TaskState::kScheduled);
      const int64_t delay = d.retry_at_ms - kNow;
      ASSERT_GE(delay, 0);
      ASSERT_LE(delay, ceiling) << "attempt " << attempt;
      lowest = std::min(lowest, delay);
      highest = std::max(highest, delay);
    }
    // Full jitter: the whole range is used, not a fixed delay.
    EXPECT_LT(lowest, ceiling / 4) << "attempt " << attempt;
    EXPECT_GT(highest, ceiling * 3 / 4) << "attempt " << attempt;
  }
}

TEST(LifecycleEndedAttempt, SameSeedSameRetryTime) {
  const RetryPolicy policy{.base = milliseconds(1000), .cap = milliseconds(60000)};
  std::mt19937_64 a(9), b(9);
  const EndedAttempt ended{Outcome::kFailed, 3, 5, true, false};
  EXPECT_EQ(DecideEndedAttempt(ended, policy, kNow, a).retry_at_ms,
            DecideEndedAttempt(ended, policy, kNow, b).retry_at_ms);
}

TEST(LifecycleEndedAttempt, NeverSoonerThanTheHandlerAsked) {
  const RetryPolicy policy{.base = milliseconds(100), .cap = milliseconds(400)};
  std::mt19937_64 rng(3);
  // The handler's time wins over a shorter backoff...
  const auto later = DecideEndedAttempt({Outcome::kFailed, 1, 5, true, false, 30000}, policy, kNow, rng);
  EXPECT_EQ(later.state, TaskState::kScheduled);
  EXPECT_EQ(later.retry_at_ms, kNow + 30000);
  // ...a longer backoff wins over a shorter ask...
  const RetryPolicy slow{.base = milliseconds(60000), .cap = milliseconds(60000)};
  for (int i = 0; i < 50; ++i) {
    const auto d = DecideEndedAttempt({Outcome::kFailed, 1, 5, true, false, 0}, slow, kNow, rng);
    EXPECT_GE(d.retry_at_ms, kNow);
    EXPECT_LE(d.retry_at_ms, kNow + 60000);
  }
  // ...and it never brings back a task that is out of attempts or failed.
  EXPECT_EQ(DecideEndedAttempt({Outcome::kFailed, 5, 5, true, false, 1000}, policy, kNow, rng).state,
            TaskState::kDead);
  EXPECT_EQ(DecideEndedAttempt({Outcome::kFailed, 1, 5, false, false, 1000}, policy, kNow, rng).state,
            TaskState::kFailed);
}

TEST(LifecycleLostAttempt, StateAndReasonTable) {
  struct Row {
    uint32_t attempt, max_attempts;
    bool cancel, lease_expired, registered;
    TaskState state;
    ReapReason reason;
  };
  const Row rows[] = {
      {1, 3, false, true, true, TaskState::kQueued, ReapReason::kLeaseExpired},
      {1, 3, false, true, false, TaskState::kQueued, ReapReason::kLeaseExpired},
      {1, 3, false, false, false, TaskState::kQueued, ReapReason::kWorkerGone},
      {1, 3, false, false, true, TaskState::kQueued, ReapReason::kWorkerSilent},
      {2, 3, false, false, true, TaskState::kQueued, ReapReason::kWorkerSilent},
      {3, 3, false, false, true, TaskState::kDead, ReapReason::kWorkerSilent},
      {4, 3, false, true, true, TaskState::kDead, ReapReason::kLeaseExpired},
      {1, 3, true, false, false, TaskState::kCancelled, ReapReason::kWorkerGone},
      {3, 3, true, true, true, TaskState::kCancelled, ReapReason::kLeaseExpired},
      {1, 1, false, false, false, TaskState::kDead, ReapReason::kWorkerGone},
  };
  for (const Row& r : rows) {
    const ReapDecision d = DecideLostAttempt({r.attempt, r.max_attempts, r.cancel, r.lease_expired, r.registered});
    const std::string name = std::to_string(r.attempt) + "/" + std::to_string(r.max_attempts) +
                             (r.cancel ? " cancel" : "") + (r.lease_expired ? " lease-expired" : "") +
                             (r.registered ? " registered" : " unregistered");
    EXPECT_EQ(d.state, r.state) << name;
    EXPECT_EQ(d.reason, r.reason) << name;
    EXPECT_TRUE(CanTransition(TaskState::kRunning, d.state)) << name;
  }
}

TEST(LifecycleLostAttempt, ReasonTextsAndMetricLabelsAreUnchanged) {
  // Stored in tasks.last_error and task_attempts.error, and a metric label:
  // users and dashboards read them.
  EXPECT_EQ(ToString(ReapReason::kLeaseExpired), "lease expired");
  EXPECT_EQ(ToString(ReapReason::kWorkerGone), "worker gone (no longer registered)");
  EXPECT_EQ(ToString(ReapReason::kWorkerSilent), "worker stopped heartbeating");
  EXPECT_EQ(MetricLabel(ReapReason::kLeaseExpired), "lease_expired");
  EXPECT_EQ(MetricLabel(ReapReason::kWorkerGone), "worker_lost");
  EXPECT_EQ(MetricLabel(ReapReason::kWorkerSilent), "worker_lost");
}

TEST(LifecycleGcra, NoRateIsNoLimit) {
  for (auto [rate, period] : {std::pair<uint32_t, int64_t>{0, 1000}, {5, 0}, {5, -1}}) {
    const GcraDecision d = DecideGcra(5000, 100, rate, period);
    EXPECT_TRUE(d.admitted);
    EXPECT_EQ(d.next_tat, 5000) << "the key's state is left alone";
  }
}

TEST(LifecycleGcra, BurstOfRateThenSpacedStarts) {
  // 4 per 1000 ms: interval 250, burst allowance 750.
  int64_t tat = 0;
  const int64_t now = 10'000;
  for (int i = 0; i < 4; ++i) {
    const GcraDecision d = DecideGcra(tat, now, 4, 1000);
    ASSERT_TRUE(d.admitted) << "start " << i << " is within the burst";
    tat = d.next_tat;
  }
  EXPECT_EQ(tat, now + 1000);
  GcraDecision fifth = DecideGcra(tat, now, 4, 1000);
  EXPECT_FALSE(fifth.admitted);
  EXPECT_EQ(fifth.conforms_at, now + 250) << "the wait is one interval";
  EXPECT_EQ(fifth.next_tat, now + 1250) << "a reservation takes the next slot";
  // At the slot it conforms.
  GcraDecision later = DecideGcra(tat, now + 250, 4, 1000);
  EXPECT_TRUE(later.admitted);
  EXPECT_EQ(later.next_tat, now + 1250);
}

TEST(LifecycleGcra, IdleKeyStartsFromNow) {
  const GcraDecision d = DecideGcra(100, 50'000, 2, 1000);
  EXPECT_TRUE(d.admitted);
  EXPECT_EQ(d.next_tat, 50'500) << "credit does not pile up while idle";
}

TEST(LifecycleGcra, FractionalIntervalRoundsAgainstExtraStarts) {
  // 3 per 1000 ms: interval 333.3: the step rounds up, the allowance down.
  const GcraDecision first = DecideGcra(0, 0, 3, 1000);
  EXPECT_EQ(first.next_tat, 334);
  const GcraDecision full = DecideGcra(1001, 334, 3, 1000);  // allowance 666
  EXPECT_FALSE(full.admitted);
  EXPECT_EQ(full.conforms_at, 1001 - 666);
  EXPECT_TRUE(DecideGcra(1000, 334, 3, 1000).admitted);
}

TEST(LifecycleGcra, RateOneHasNoBurst) {
  EXPECT_TRUE(DecideGcra(100, 100, 1, 1000).admitted);
  const GcraDecision d = DecideGcra(101, 100, 1, 1000);
  EXPECT_FALSE(d.admitted);
  EXPECT_EQ(d.conforms_at, 101);
}

}  // namespace
}  // namespace fila
