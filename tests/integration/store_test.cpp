// The Postgres store against a real server: enqueue, idempotency, claim
// fencing and guarded finish, and the migrator.
#include <gtest/gtest.h>

#include <thread>

#include "fila/errors.h"
#include "fila/migrator.h"
#include "fila/postgres_store.h"
#include "support/harness.h"

namespace fila {
namespace {

using test::TestDatabase;

NewTask Noop(std::string key = {}) {
  NewTask t;
  t.type = "noop";
  t.queue = "default";
  t.max_attempts = 3;
  t.timeout_ms = 1000;
  t.idempotency_key = std::move(key);
  return t;
}

TEST(PostgresStore, EnqueueWritesTaskAndOutboxTogether) {
  TestDatabase db;
  PostgresStore store(db.url());
  std::vector<NewTask> tasks(3, Noop());
  auto results = store.Enqueue(tasks);
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) {
    EXPECT_TRUE(r.created);
    EXPECT_EQ(r.state, TaskState::kQueued);
    EXPECT_TRUE(IsUuid(r.id)) << r.id;
  }
  EXPECT_EQ(db.Count("SELECT count(*) FROM tasks WHERE state = 'queued'"), 3);
  EXPECT_EQ(db.Count("SELECT count(*) FROM outbox"), 3);
}

TEST(PostgresStore, IdempotencyKeyReturnsTheExistingTask) {
  TestDatabase db;
  PostgresStore store(db.url());
  std::vector<NewTask> first{Noop("order-1")};
  auto a = store.Enqueue(first);
  // Same key again, plus a duplicate within one batch.
  std::vector<NewTask> again{Noop("order-1"), Noop("order-2"), Noop("order-2")};
  auto b = store.Enqueue(again);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].id, a[0].id);
  EXPECT_FALSE(b[0].created);
  EXPECT_TRUE(b[1].created);
  EXPECT_EQ(b[2].id, b[1].id);
  EXPECT_FALSE(b[2].created);
  EXPECT_EQ(db.Count("SELECT count(*) FROM tasks"), 2);
  EXPECT_EQ(db.Count("SELECT count(*) FROM outbox"), 2);
}

TEST(PostgresStore, ConcurrentIdenticalEnqueuesCreateOneTask) {
  TestDatabase db;
  std::vector<std::string> ids(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ids.size(); ++i) {
    threads.emplace_back([&, i] {
      PostgresStore store(db.url());
      std::vector<NewTask> one{Noop("same-key")};
      for (int tries = 0; tries < 5; ++tries) {
        try {
          ids[i] = store.Enqueue(one)[0].id;
          return;
        } catch (const TransientError&) {
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& id : ids) EXPECT_EQ(id, ids[0]);
  EXPECT_EQ(db.Count("SELECT count(*) FROM tasks"), 1);
}

TEST(PostgresStore, ClaimIsFencedAndFinishIsGuarded) {
  TestDatabase db;
  PostgresStore store(db.url());
  std::vector<NewTask> one{Noop()};
  const std::string id = store.Enqueue(one)[0].id;
  const std::string missing = "00000000-0000-4000-8000-000000000000";

  std::vector<std::string> ids{id, missing, "not-a-uuid"};
  auto first = store.Claim(ids, "w1", 30000);
  ASSERT_EQ(first.claimed.size(), 1u);
  EXPECT_EQ(first.claimed[0].attempt, 1u);
  EXPECT_EQ(first.unknown.size(), 2u);

  // A second claim of the same task (a duplicate delivery) finds nothing.
  std::vector<std::string> again{id};
  auto second = store.Claim(again, "w2", 30000);
  EXPECT_TRUE(second.claimed.empty());
  EXPECT_EQ(second.not_claimable, again);

  // A finish with a stale attempt changes nothing; the current one applies once.
  FinishRecord stale{.id = id, .attempt = 7, .state = TaskState::kSucceeded, .worker = "w9"};
  FinishRecord current{.id = id, .attempt = 1, .state = TaskState::kSucceeded, .worker = "w1"};
  std::vector<FinishRecord> batch{stale, current};
  auto applied = store.Finish(batch);
  EXPECT_EQ(applied, (std::vector<bool>{false, true}));
  std::vector<FinishRecord> repeat{current};
  EXPECT_EQ(store.Finish(repeat), std::vector<bool>{false});

  auto view = store.GetTask(id);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->state, TaskState::kSucceeded);
  ASSERT_EQ(view->attempts.size(), 1u);
  EXPECT_EQ(view->attempts[0].worker, "w1");
  EXPECT_EQ(db.Count("SELECT count(*) FROM task_attempts"), 1);
}

TEST(PostgresStore, RetryIsScheduledThenReleased) {
  TestDatabase db;
  PostgresStore store(db.url());
  std::vector<NewTask> one{Noop()};
  const std::string id = store.Enqueue(one)[0].id;
  std::vector<int64_t> outbox;
  for (const auto& item : store.FetchOutbox(10)) outbox.push_back(item.outbox_id);
  store.DeleteOutbox(outbox);
  std::vector<std::string> ids{id};
  ASSERT_EQ(store.Claim(ids, "w1", 30000).claimed.size(), 1u);
  std::vector<FinishRecord> fail{{.id = id,
                                  .attempt = 1,
                                  .state = TaskState::kScheduled,
                                  .outcome = Outcome::kFailed,
                                  .error = "boom \xff\x00 bad utf8",
                                  .error_kind = "transient",
                                  .retry_at_ms = 1}};
  ASSERT_EQ(store.Finish(fail), std::vector<bool>{true});
  EXPECT_EQ(store.ReleaseDue(100), 1);
  auto view = store.GetTask(id);
  EXPECT_EQ(view->state, TaskState::kQueued);
  EXPECT_EQ(view->attempts.at(0).error_kind, "transient");
  ASSERT_EQ(store.FetchOutbox(10).size(), 1u);
  auto again = store.Claim(ids, "w2", 30000);
  ASSERT_EQ(again.claimed.size(), 1u);
  EXPECT_EQ(again.claimed[0].attempt, 2u);
}

TEST(PostgresStore, SchemaCheckNamesTheFix) {
  TestDatabase db(/*migrate=*/false);
  PostgresStore store(db.url());
  try {
    store.RequireSchema();
    FAIL() << "expected PermanentError";
  } catch (const PermanentError& e) {
    EXPECT_NE(std::string(e.what()).find("fila migrate up"), std::string::npos) << e.what();
  }
}

TEST(PostgresStore, UnreachableServerIsTransient) {
  PostgresStore store("postgresql://postgres@127.0.0.1:1/fila?connect_timeout=2");
  EXPECT_THROW(store.Connect(), TransientError);
}

TEST(PostgresStore, CancelQueuedAtOnceAndRunningByFlag) {
  TestDatabase db;
  PostgresStore store(db.url());
  std::vector<NewTask> two{Noop(), Noop()};
  auto ids = store.Enqueue(two);
  auto queued = store.Cancel(ids[0].id);
  EXPECT_TRUE(queued.found && queued.changed);
  EXPECT_EQ(queued.state, TaskState::kCancelled);
  std::vector<std::string> claim{ids[0].id, ids[1].id};
  auto claimed = store.Claim(claim, "w1", 30000);
  ASSERT_EQ(claimed.claimed.size(), 1u);  // the cancelled one never starts
  EXPECT_EQ(claimed.not_claimable, std::vector<std::string>{ids[0].id});

  auto running = store.Cancel(ids[1].id);
  EXPECT_TRUE(running.changed);
  EXPECT_EQ(running.state, TaskState::kRunning);
  EXPECT_EQ(store.CancelRequested("w1"), (std::vector<AttemptRef>{{ids[1].id, 1}}));
  EXPECT_TRUE(store.CancelRequested("w2").empty());
  EXPECT_FALSE(store.Cancel(ids[1].id).changed);  // asked once is enough
  EXPECT_FALSE(store.Cancel("00000000-0000-4000-8000-000000000000").found);
}

TEST(PostgresStore, ReplayGivesAFreshBudgetWithNewAttemptNumbers) {
  TestDatabase db;
  PostgresStore store(db.url());
  NewTask t = Noop();
  t.max_attempts = 2;
  std::vector<NewTask> one{t};
  const std::string id = store.Enqueue(one)[0].id;
  std::vector<std::string> ids{id};
  for (uint32_t attempt = 1; attempt <= 2; ++attempt) {
    ASSERT_EQ(store.Claim(ids, "w1", 30000).claimed.at(0).attempt, attempt);
    std::vector<FinishRecord> f{{.id = id,
                                 .attempt = attempt,
                                 .state = attempt < 2 ? TaskState::kScheduled : TaskState::kDead,
                                 .outcome = Outcome::kFailed,
                                 .error = "boom",
                                 .retry_at_ms = 1}};
    ASSERT_EQ(store.Finish(f), std::vector<bool>{true});
    store.ReleaseDue(10);
  }
  EXPECT_EQ(store.GetTask(id)->state, TaskState::kDead);
  EXPECT_FALSE(store.Replay("00000000-0000-4000-8000-000000000000").found);
  EXPECT_EQ(store.ReplayDead("other-type"), 0);
  EXPECT_EQ(store.ReplayDead("noop"), 1);
  auto view = store.GetTask(id);
  EXPECT_EQ(view->state, TaskState::kQueued);
  EXPECT_EQ(view->max_attempts, 4u);
  EXPECT_EQ(store.Claim(ids, "w1", 30000).claimed.at(0).attempt, 3u);  // never reused
  auto again = store.Replay(id);
  EXPECT_TRUE(again.found);
  EXPECT_FALSE(again.changed);  // running tasks are not replayed
}

TEST(PostgresStore, ReaperRequeuesTasksOfSilentWorkersOnly) {
  TestDatabase db;
  PostgresStore store(db.url());
  store.Heartbeat({.id = "alive", .concurrency = 1}, 30000);
  store.Heartbeat({.id = "gone", .concurrency = 1}, 30000);
  store.Heartbeat({.id = "deregistered", .concurrency = 1}, 30000);
  std::vector<NewTask> four{Noop(), Noop(), Noop(), Noop()};
  auto ids = store.Enqueue(four);
  std::vector<std::string> a{ids[0].id}, b{ids[1].id}, c{ids[2].id}, d{ids[3].id};
  ASSERT_EQ(store.Claim(a, "alive", 30000).claimed.size(), 1u);
  ASSERT_EQ(store.Claim(b, "gone", 30000).claimed.size(), 1u);
  ASSERT_EQ(store.Claim(c, "alive", 30000).claimed.size(), 1u);
  ASSERT_EQ(store.Claim(d, "deregistered", 30000).claimed.size(), 1u);
  db.Exec("UPDATE workers SET heartbeat_at = now() - interval '1 minute' WHERE id = 'gone'");
  db.Exec("UPDATE tasks SET lease_until = now() - interval '1 second' WHERE id = '" + ids[2].id + "'");
  store.Deregister("deregistered");  // its row is gone, its lease still valid
  db.Exec("DELETE FROM outbox");

  auto reaped = store.ReapLost(10000, 100);
  ASSERT_EQ(reaped.size(), 3u);
  EXPECT_EQ(store.GetTask(ids[0].id)->state, TaskState::kRunning);
  for (const auto& id : {ids[1].id, ids[2].id, ids[3].id}) {
    auto v = store.GetTask(id);
    EXPECT_EQ(v->state, TaskState::kQueued);
    ASSERT_EQ(v->attempts.size(), 1u);
    EXPECT_EQ(v->attempts[0].outcome, "lost");
  }
  EXPECT_EQ(db.Count("SELECT count(*) FROM outbox"), 3);
  // The late finish of a reaped attempt is fenced out.
  std::vector<FinishRecord> late{{.id = ids[1].id, .attempt = 1, .worker = "gone"}};
  EXPECT_EQ(store.Finish(late), std::vector<bool>{false});
  EXPECT_TRUE(store.ReapLost(10000, 100).empty());
}

// A heartbeat extends the leases of the tasks the worker holds, not of
// every task running under its name: one whose claim committed while the
// answer was lost (the worker never ran it) must expire and be retried.
TEST(PostgresStore, HeartbeatExtendsOnlyTheLeasesOfHeldTasks) {
  TestDatabase db;
  PostgresStore store(db.url());
  std::vector<NewTask> two{Noop(), Noop()};
  auto ids = store.Enqueue(two);
  std::vector<std::string> both{ids[0].id, ids[1].id};
  ASSERT_EQ(store.Claim(both, "w1", 30000).claimed.size(), 2u);
  db.Exec("UPDATE tasks SET lease_until = now() - interval '1 second'");
  db.Exec("DELETE FROM outbox");

  WorkerInfo info{.id = "w1", .concurrency = 2};
  info.held = {ids[0].id};
  store.Heartbeat(info, 30000);

  auto reaped = store.ReapLost(10000, 100);
  ASSERT_EQ(reaped.size(), 1u);
  EXPECT_EQ(reaped[0].id, ids[1].id);
  EXPECT_EQ(reaped[0].reason, ReapReason::kLeaseExpired);
  EXPECT_EQ(store.GetTask(ids[0].id)->state, TaskState::kRunning);
  EXPECT_EQ(store.GetTask(ids[1].id)->state, TaskState::kQueued);
}

TEST(Migrator, UpDownStatusAndIdempotence) {
  TestDatabase db(/*migrate=*/false);
  Migrator migrator(db.url());
  auto applied = migrator.Up();
  EXPECT_EQ(static_cast<int>(applied.size()), RequiredSchemaVersion());
  EXPECT_TRUE(migrator.Up().empty());
  for (const auto& s : migrator.Status()) EXPECT_TRUE(s.applied) << s.version;

  auto reverted = migrator.Down();
  ASSERT_TRUE(reverted.has_value());
  EXPECT_EQ(*reverted, RequiredSchemaVersion());
  EXPECT_FALSE(migrator.Status().back().applied);
  EXPECT_EQ(db.Count("SELECT count(*) FROM pg_tables WHERE tablename = 'tasks'"),
            RequiredSchemaVersion() > 1 ? 1 : 0);
  EXPECT_EQ(migrator.Up().size(), 1u);
}

TEST(Migrator, ConcurrentUpAppliesEachMigrationOnce) {
  TestDatabase db(/*migrate=*/false);
  std::vector<std::unique_ptr<test::Process>> runs;
  for (int i = 0; i < 4; ++i) {
    runs.push_back(std::make_unique<test::Process>(
        "fila", std::vector<std::string>{"migrate", "up"},
        std::map<std::string, std::string>{{"FILA_DATABASE_URL", db.url()}}));
  }
  for (auto& p : runs) {
    int status = p->Wait(std::chrono::seconds(60));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << p->Stderr();
  }
  EXPECT_EQ(db.Count("SELECT count(*) FROM schema_migrations"), RequiredSchemaVersion());
}

}  // namespace
}  // namespace fila
