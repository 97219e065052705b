// The store contract, part one: enqueue and idempotency, the outbox, claim
// and finish fencing, retries, the reaper, heartbeats, cancel and replay,
// progress and notifications.
#include "conformance_support.h"
#include "fila/core/errors.h"
#include "fila/core/uuid.h"
#include "store_conformance.h"

namespace fila::test {
namespace {

using std::chrono::milliseconds;

TEST_P(StoreConformance, EnqueueWritesTasksAndOutboxRowsTogether) {
  auto results = EnqueueAll(store(), {Noop(), Noop(), Noop()});
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) {
    EXPECT_TRUE(r.created);
    EXPECT_EQ(r.state, TaskState::kQueued);
    EXPECT_TRUE(IsUuid(r.id)) << r.id;
  }
  auto items = store().FetchOutbox(10);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].envelope.id, results[0].id);
  EXPECT_EQ(items[0].envelope.type, "noop");
  EXPECT_EQ(items[0].envelope.queue, "default");
  EXPECT_LT(items[0].outbox_id, items[1].outbox_id);
  EXPECT_EQ(store().CountActive(), 3);
}

TEST_P(StoreConformance, EnqueueTakesTheGivenIdAndRefusesABadOne) {
  NewTask t = Noop();
  t.id = "7f1c6a52-3b0e-4a57-9d4e-2f52a1c0e001";
  EXPECT_EQ(EnqueueOne(store(), t), t.id);
  t.id = "not-a-uuid";
  EXPECT_THROW(EnqueueOne(store(), t), PermanentError);
}

TEST_P(StoreConformance, IdempotencyKeyReturnsTheExistingTaskOfTheSameTenant) {
  auto a = EnqueueAll(store(), {Noop("order-1")});
  auto b = EnqueueAll(store(), {Noop("order-1"), Noop("order-2"), Noop("order-2"),
                                Noop("order-1", "acme")});
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0].id, a[0].id);
  EXPECT_FALSE(b[0].created);
  EXPECT_TRUE(b[1].created);
  EXPECT_EQ(b[2].id, b[1].id);
  EXPECT_FALSE(b[2].created);
  EXPECT_TRUE(b[3].created);  // another tenant's key is another key
  EXPECT_NE(b[3].id, a[0].id);
  EXPECT_EQ(DrainOutbox(store()), 3u);
}

TEST_P(StoreConformance, OutboxRowsOfTasksNoLongerQueuedHaveNoQueue) {
  auto ids = EnqueueAll(store(), {Noop(), Noop()});
  ASSERT_TRUE(store().Cancel(ids[0].id).changed);
  auto items = store().FetchOutbox(10);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_TRUE(items[0].envelope.queue.empty());
  EXPECT_EQ(items[1].envelope.queue, "default");
  std::vector<int64_t> first{items[0].outbox_id};
  store().DeleteOutbox(first);
  ASSERT_EQ(store().FetchOutbox(10).size(), 1u);
  EXPECT_EQ(store().FetchOutbox(1).size(), 1u);
}

TEST_P(StoreConformance, FetchOutboxLeavesOutTheExcludedRows) {
  auto tasks = EnqueueAll(store(), {Noop(), Noop(), Noop(), Noop()});
  auto all = store().FetchOutbox(10);
  ASSERT_EQ(all.size(), 4u);
  // The relay's batches in flight: the first and the third row.
  const std::vector<int64_t> in_flight{all[0].outbox_id, all[2].outbox_id};
  auto rest = store().FetchOutbox(10, in_flight);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].outbox_id, all[1].outbox_id);
  EXPECT_EQ(rest[0].envelope.id, tasks[1].id);
  EXPECT_EQ(rest[1].outbox_id, all[3].outbox_id);
  // The limit counts the rows returned, not the rows left out.
  auto one = store().FetchOutbox(1, in_flight);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].outbox_id, all[1].outbox_id);
  // Ids that are no outbox row (already deleted) change nothing.
  const std::vector<int64_t> gone{all[3].outbox_id + 1000};
  EXPECT_EQ(store().FetchOutbox(10, gone).size(), 4u);
  std::vector<int64_t> every;
  for (const auto& item : all) every.push_back(item.outbox_id);
  EXPECT_TRUE(store().FetchOutbox(10, every).empty());
}

TEST_P(StoreConformance, ClaimIsFencedAndFinishIsGuarded) {
  const std::string id = EnqueueOne(store());
  auto first = ClaimIds(store(), {id, kMissing, "not-a-uuid"});
  ASSERT_EQ(first.claimed.size(), 1u);
  EXPECT_EQ(first.claimed[0].id, id);
  EXPECT_EQ(first.claimed[0].attempt, 1u);
  EXPECT_EQ(first.claimed[0].max_attempts, 3u);
  EXPECT_EQ(first.unknown.size(), 2u);

  auto second = ClaimIds(store(), {id}, "w2");
  EXPECT_TRUE(second.claimed.empty());
  EXPECT_EQ(second.not_claimable, std::vector<std::string>{id});

  FinishRecord stale{.id = id, .attempt = 7, .state = TaskState::kSucceeded, .worker = "w9"};
  FinishRecord current{.id = id, .attempt = 1, .state = TaskState::kSucceeded,
                       .result = "done", .worker = "w1"};
  std::vector<FinishRecord> batch{stale, current};
  EXPECT_EQ(store().Finish(batch), (std::vector<bool>{false, true}));
  EXPECT_FALSE(FinishOne(store(), current));  // once only

  auto view = store().GetTask(id);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->state, TaskState::kSucceeded);
  EXPECT_EQ(view->result, "done");
  EXPECT_EQ(view->progress, 100);
  EXPECT_GT(view->finished_at_ms, 0);
  ASSERT_EQ(view->attempts.size(), 1u);
  EXPECT_EQ(view->attempts[0].worker, "w1");
  EXPECT_EQ(view->attempts[0].outcome, "succeeded");
  EXPECT_EQ(store().CountActive(), 0);
}

TEST_P(StoreConformance, RetryIsScheduledThenReleasedWithANewAttempt) {
  const std::string id = EnqueueOne(store());
  DrainOutbox(store());
  ASSERT_EQ(ClaimIds(store(), {id}).claimed.size(), 1u);
  ASSERT_TRUE(FinishOne(store(), {.id = id,
                                  .attempt = 1,
                                  .state = TaskState::kScheduled,
                                  .outcome = Outcome::kFailed,
                                  .error = "boom",
                                  .error_kind = "transient",
                                  .retry_at_ms = 1}));
  auto scheduled = store().GetTask(id);
  EXPECT_EQ(scheduled->state, TaskState::kScheduled);
  EXPECT_EQ(scheduled->last_error, "boom");
  EXPECT_EQ(scheduled->finished_at_ms, 0);
  EXPECT_TRUE(ClaimIds(store(), {id}).claimed.empty());  // not before its time

  int64_t next_due = 0;
  EXPECT_EQ(store().ReleaseDue(100, &next_due), 1);
  EXPECT_EQ(next_due, -1);
  auto view = store().GetTask(id);
  EXPECT_EQ(view->state, TaskState::kQueued);
  EXPECT_EQ(view->attempts.at(0).error_kind, "transient");
  EXPECT_EQ(view->attempts.at(0).retry_at_ms, 1);
  EXPECT_EQ(DrainOutbox(store()), 1u);
  auto again = ClaimIds(store(), {id}, "w2");
  ASSERT_EQ(again.claimed.size(), 1u);
  EXPECT_EQ(again.claimed[0].attempt, 2u);
}

TEST_P(StoreConformance, DelayedTaskWaitsScheduledUntilDue) {
  NewTask t = Noop();
  t.run_at_ms = NowUnixMs() + 400;
  auto r = EnqueueAll(store(), {t});
  EXPECT_EQ(r[0].state, TaskState::kScheduled);
  EXPECT_TRUE(store().FetchOutbox(10).empty());
  int64_t next_due = -1;
  EXPECT_EQ(store().ReleaseDue(100, &next_due), 0);
  EXPECT_GT(next_due, 0);
  // run_at came from the real clock; a fake clock (the memory store's) was
  // set when the fixture started, so it may lag by the setup's time.
  EXPECT_LE(next_due, 400 + 100);
  Advance(milliseconds(600));
  EXPECT_EQ(store().ReleaseDue(100, &next_due), 1);
  EXPECT_EQ(store().GetTask(r[0].id)->state, TaskState::kQueued);
  EXPECT_EQ(store().FetchOutbox(10).size(), 1u);
}

TEST_P(StoreConformance, ReleaseDueHonoursItsLimit) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    const std::string id = EnqueueOne(store());
    ASSERT_EQ(ClaimIds(store(), {id}).claimed.size(), 1u);
    ASSERT_TRUE(FinishOne(store(), {.id = id, .attempt = 1, .state = TaskState::kScheduled,
                                    .outcome = Outcome::kFailed, .retry_at_ms = 1 + i}));
  }
  int64_t next_due = -1;
  EXPECT_EQ(store().ReleaseDue(2, &next_due), 2);
  EXPECT_LE(next_due, 0);  // one more is due now
  EXPECT_EQ(store().ReleaseDue(2), 1);
}

TEST_P(StoreConformance, ReaperTakesBackTasksOfSilentGoneOrExpiredWorkersOnly) {
  store().Heartbeat({.id = "alive", .concurrency = 2}, 30000);
  store().Heartbeat({.id = "silent", .concurrency = 1}, 30000);
  store().Heartbeat({.id = "deregistered", .concurrency = 1}, 30000);
  auto ids = EnqueueAll(store(), {Noop(), Noop(), Noop(), Noop()});
  ASSERT_EQ(ClaimIds(store(), {ids[0].id}, "alive").claimed.size(), 1u);
  ASSERT_EQ(ClaimIds(store(), {ids[1].id}, "silent").claimed.size(), 1u);
  ASSERT_EQ(ClaimIds(store(), {ids[2].id}, "alive", 200).claimed.size(), 1u);  // short lease
  ASSERT_EQ(ClaimIds(store(), {ids[3].id}, "deregistered").claimed.size(), 1u);
  store().Deregister("deregistered");
  DrainOutbox(store());
  Advance(milliseconds(500));
  WorkerInfo alive{.id = "alive", .concurrency = 2};
  alive.held = {ids[0].id};  // ids[2] is not held: its lease stays expired
  store().Heartbeat(alive, 30000);

  auto reaped = store().ReapLost(/*worker_timeout_ms=*/300, 100);
  ASSERT_EQ(reaped.size(), 3u);
  EXPECT_EQ(store().GetTask(ids[0].id)->state, TaskState::kRunning);
  for (const auto& id : {ids[1].id, ids[2].id, ids[3].id}) {
    auto v = store().GetTask(id);
    EXPECT_EQ(v->state, TaskState::kQueued) << id;
    ASSERT_EQ(v->attempts.size(), 1u);
    EXPECT_EQ(v->attempts[0].outcome, "lost");
    EXPECT_EQ(v->attempts[0].error_kind, "lost");
  }
  for (const auto& t : reaped) {
    EXPECT_EQ(t.state, TaskState::kQueued);
    EXPECT_EQ(t.attempt, 1u);
    EXPECT_EQ(t.queue, "default");
    EXPECT_EQ(t.type, "noop");
  }
  EXPECT_EQ(DrainOutbox(store()), 3u);
  // The late finish of a reaped attempt is fenced out.
  EXPECT_FALSE(FinishOne(store(), {.id = ids[1].id, .attempt = 1, .worker = "silent"}));
  EXPECT_TRUE(store().ReapLost(300, 100).empty());
}

TEST_P(StoreConformance, ReaperEndsTasksOutOfAttemptsOrAskedToCancel) {
  NewTask last = Noop();
  last.max_attempts = 1;
  auto ids = EnqueueAll(store(), {last, Noop()});
  ASSERT_EQ(ClaimIds(store(), {ids[0].id, ids[1].id}, "gone").claimed.size(), 2u);
  ASSERT_TRUE(store().Cancel(ids[1].id).changed);
  auto reaped = store().ReapLost(10000, 100);  // "gone" never heartbeat: not registered
  ASSERT_EQ(reaped.size(), 2u);
  EXPECT_EQ(store().GetTask(ids[0].id)->state, TaskState::kDead);
  EXPECT_GT(store().GetTask(ids[0].id)->finished_at_ms, 0);
  EXPECT_EQ(store().GetTask(ids[1].id)->state, TaskState::kCancelled);
}

TEST_P(StoreConformance, ReaperHonoursItsLimitOldestFirst) {
  auto ids = EnqueueAll(store(), {Noop(), Noop(), Noop()});
  for (const auto& r : ids) ASSERT_EQ(ClaimIds(store(), {r.id}, "gone").claimed.size(), 1u);
  EXPECT_EQ(store().ReapLost(10000, 2).size(), 2u);
  EXPECT_EQ(store().ReapLost(10000, 2).size(), 1u);
}

TEST_P(StoreConformance, CancelQueuedAtOnceAndRunningByFlag) {
  auto ids = EnqueueAll(store(), {Noop(), Noop()});
  auto queued = store().Cancel(ids[0].id);
  EXPECT_TRUE(queued.found && queued.changed);
  EXPECT_EQ(queued.state, TaskState::kCancelled);
  auto claimed = ClaimIds(store(), {ids[0].id, ids[1].id});
  ASSERT_EQ(claimed.claimed.size(), 1u);
  EXPECT_EQ(claimed.not_claimable, std::vector<std::string>{ids[0].id});

  auto running = store().Cancel(ids[1].id);
  EXPECT_TRUE(running.changed);
  EXPECT_EQ(running.state, TaskState::kRunning);
  EXPECT_EQ(store().CancelRequested("w1"), (std::vector<AttemptRef>{{ids[1].id, 1}}));
  EXPECT_TRUE(store().CancelRequested("w2").empty());
  EXPECT_FALSE(store().Cancel(ids[1].id).changed);
  EXPECT_TRUE(store().GetTask(ids[1].id)->cancel_requested);
  EXPECT_FALSE(store().Cancel(kMissing).found);
  EXPECT_FALSE(store().Cancel("junk").found);
  auto ended = store().Cancel(ids[0].id);
  EXPECT_TRUE(ended.found);
  EXPECT_FALSE(ended.changed);
}

TEST_P(StoreConformance, ReplayGivesAFreshBudgetWithNewAttemptNumbers) {
  NewTask t = Noop();
  t.max_attempts = 2;
  const std::string id = EnqueueOne(store(), t);
  for (uint32_t attempt = 1; attempt <= 2; ++attempt) {
    ASSERT_EQ(ClaimIds(store(), {id}).claimed.at(0).attempt, attempt);
    ASSERT_TRUE(FinishOne(store(), {.id = id,
                                    .attempt = attempt,
                                    .state = attempt < 2 ? TaskState::kScheduled : TaskState::kDead,
                                    .outcome = Outcome::kFailed,
                                    .error = "boom",
                                    .retry_at_ms = 1}));
    store().ReleaseDue(10);
  }
  EXPECT_EQ(store().GetTask(id)->state, TaskState::kDead);
  EXPECT_FALSE(store().Replay(kMissing).found);
  EXPECT_EQ(store().ReplayDead("other-type"), 0);
  EXPECT_EQ(store().ReplayDead("noop"), 1);
  auto view = store().GetTask(id);
  EXPECT_EQ(view->state, TaskState::kQueued);
  EXPECT_EQ(view->max_attempts, 4u);
  EXPECT_EQ(view->finished_at_ms, 0);
  EXPECT_EQ(ClaimIds(store(), {id}).claimed.at(0).attempt, 3u);
  auto again = store().Replay(id);
  EXPECT_TRUE(again.found);
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(again.state, TaskState::kRunning);
  ASSERT_TRUE(store().Cancel(id).changed);
  ASSERT_TRUE(FinishOne(store(), {.id = id, .attempt = 3, .state = TaskState::kCancelled,
                                  .outcome = Outcome::kCancelled}));
  auto replayed = store().Replay(id);
  EXPECT_TRUE(replayed.changed);
  EXPECT_EQ(replayed.state, TaskState::kQueued);
  EXPECT_FALSE(store().GetTask(id)->cancel_requested);
}

TEST_P(StoreConformance, ProgressIsFencedByAttempt) {
  const std::string id = EnqueueOne(store());
  ASSERT_EQ(ClaimIds(store(), {id}).claimed.size(), 1u);
  std::vector<ProgressUpdate> updates{{id, 1, 140, "half"}, {id, 9, 10, "stale"}};
  store().RecordProgress(updates);
  auto v = store().GetTask(id);
  EXPECT_EQ(v->progress, 100);  // clamped
  EXPECT_EQ(v->progress_message, "half");
}

TEST_P(StoreConformance, HeartbeatExtendsOnlyTheLeasesOfHeldTasks) {
  auto ids = EnqueueAll(store(), {Noop(), Noop()});
  ASSERT_EQ(ClaimIds(store(), {ids[0].id, ids[1].id}, "w1", 200).claimed.size(), 2u);
  WorkerInfo info{.id = "w1", .concurrency = 2};
  info.held = {ids[0].id};
  store().Heartbeat(info, 30000);
  Advance(milliseconds(400));
  store().Heartbeat(info, 30000);
  auto reaped = store().ReapLost(10000, 100);
  ASSERT_EQ(reaped.size(), 1u);
  EXPECT_EQ(reaped[0].id, ids[1].id);
  EXPECT_EQ(store().GetTask(ids[0].id)->state, TaskState::kRunning);
}

TEST_P(StoreConformance, LeaderHoldsLeadershipAndHearsOfDueTasks) {
  EXPECT_TRUE(store().TryLeadership(42));
  EXPECT_TRUE(store().TryLeadership(42));  // kept
  store().Listen("fila_outbox");
  (void)store().AwaitPayloads(milliseconds(1));  // the subscription is live
  NewTask t = Noop();
  t.run_at_ms = NowUnixMs() + 60000;
  EnqueueOne(store(), t);
  bool due = false;
  for (int i = 0; i < 20 && !due; ++i) {
    for (const auto& p : store().AwaitPayloads(milliseconds(100))) due = due || p == "due";
  }
  EXPECT_TRUE(due);
}

}  // namespace
}  // namespace fila::test
