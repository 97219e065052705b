// The reaper against a real server: the decision is DecideLostAttempt's
// (core/lifecycle.h), the guarded UPDATE applies it; the reasons are typed
// in C++ and stored as the texts users read.
#include <gtest/gtest.h>

#include <map>

#include "fila/core/lifecycle.h"
#include "fila/store_postgres/postgres_store.h"
#include "support/harness.h"

namespace fila {
namespace {

using test::TestDatabase;

NewTask Noop(uint32_t max_attempts) {
  NewTask t;
  t.type = "noop";
  t.queue = "default";
  t.max_attempts = max_attempts;
  t.timeout_ms = 1000;
  return t;
}

TEST(PostgresReaper, EachReasonIsTypedAndStoredAsItsText) {
  TestDatabase db;
  PostgresStore store(db.url());
  store.Heartbeat({.id = "silent", .concurrency = 1}, 30000);
  store.Heartbeat({.id = "leased", .concurrency = 1}, 30000);
  store.Heartbeat({.id = "gone", .concurrency = 1}, 30000);
  std::vector<NewTask> three{Noop(3), Noop(3), Noop(3)};
  auto ids = store.Enqueue(three);
  const std::map<std::string, std::string> worker_of{
      {ids[0].id, "silent"}, {ids[1].id, "leased"}, {ids[2].id, "gone"}};
  for (const auto& [id, worker] : worker_of) {
    std::vector<std::string> one{id};
    ASSERT_EQ(store.Claim(one, worker, 30000).claimed.size(), 1u);
  }
  db.Exec("UPDATE workers SET heartbeat_at = now() - interval '1 minute' WHERE id = 'silent'");
  db.Exec("UPDATE tasks SET lease_until = now() - interval '1 second' WHERE worker = 'leased'");
  store.Deregister("gone");

  const std::map<std::string, ReapReason> expected{{ids[0].id, ReapReason::kWorkerSilent},
                                                   {ids[1].id, ReapReason::kLeaseExpired},
                                                   {ids[2].id, ReapReason::kWorkerGone}};
  auto reaped = store.ReapLost(10000, 100);
  ASSERT_EQ(reaped.size(), 3u);
  for (const auto& t : reaped) {
    EXPECT_EQ(t.reason, expected.at(t.id)) << t.worker;
    EXPECT_EQ(t.worker, worker_of.at(t.id));
    EXPECT_EQ(t.attempt, 1u);
    EXPECT_EQ(t.state, TaskState::kQueued);
    EXPECT_EQ(t.queue, "default");
    EXPECT_EQ(t.type, "noop");
    auto view = store.GetTask(t.id);
    EXPECT_EQ(view->last_error, ToString(expected.at(t.id)));
    ASSERT_EQ(view->attempts.size(), 1u);
    EXPECT_EQ(view->attempts[0].error, ToString(expected.at(t.id)));
    EXPECT_EQ(view->attempts[0].worker, worker_of.at(t.id));
    EXPECT_EQ(view->finished_at_ms, 0) << "a task queued again is not finished";
  }
}

TEST(PostgresReaper, OutOfAttemptsIsDeadAndCancelRequestedIsCancelled) {
  TestDatabase db;
  PostgresStore store(db.url());
  std::vector<NewTask> tasks{Noop(1), Noop(3), Noop(3)};
  auto ids = store.Enqueue(tasks);
  std::vector<std::string> all{ids[0].id, ids[1].id, ids[2].id};
  ASSERT_EQ(store.Claim(all, "w", 30000).claimed.size(), 3u);
  ASSERT_TRUE(store.Cancel(ids[1].id).found);  // running: flagged
  db.Exec("UPDATE tasks SET lease_until = now() - interval '1 second'");
  db.Exec("DELETE FROM outbox");
  store.Heartbeat({.id = "w", .concurrency = 3}, 30000);

  auto reaped = store.ReapLost(10000, 100);
  ASSERT_EQ(reaped.size(), 3u);
  std::map<std::string, TaskState> states;
  for (const auto& t : reaped) states[t.id] = t.state;
  EXPECT_EQ(states[ids[0].id], TaskState::kDead);
  EXPECT_EQ(states[ids[1].id], TaskState::kCancelled);
  EXPECT_EQ(states[ids[2].id], TaskState::kQueued);
  for (const auto& id : all) EXPECT_EQ(store.GetTask(id)->state, states[id]);
  EXPECT_GT(store.GetTask(ids[0].id)->finished_at_ms, 0);
  EXPECT_GT(store.GetTask(ids[1].id)->finished_at_ms, 0);
  EXPECT_EQ(store.GetTask(ids[2].id)->finished_at_ms, 0);
  EXPECT_EQ(db.Count("SELECT count(*) FROM outbox"), 1) << "only the task queued again is published";
  EXPECT_EQ(db.Count("SELECT count(*) FROM outbox WHERE task_id = '" + ids[2].id + "'"), 1);
  EXPECT_TRUE(store.ReapLost(10000, 100).empty());
}

TEST(PostgresReaper, TheLimitBoundsTheBatchOldestFirst) {
  TestDatabase db;
  PostgresStore store(db.url());
  std::vector<NewTask> tasks{Noop(3), Noop(3), Noop(3)};
  auto ids = store.Enqueue(tasks);
  for (const auto& r : ids) {
    std::vector<std::string> one{r.id};
    ASSERT_EQ(store.Claim(one, "nobody", 30000).claimed.size(), 1u);  // never registered
  }
  auto first = store.ReapLost(10000, 2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].reason, ReapReason::kWorkerGone);
  auto rest = store.ReapLost(10000, 2);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].id, ids[2].id);
}

}  // namespace
}  // namespace fila
