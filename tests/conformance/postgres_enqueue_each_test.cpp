// EnqueueEach on PostgreSQL where only a real database can refuse: a
// trigger refuses one row (that task alone fails), a statement timeout
// (TransientError) fails the whole group. And the enqueue under a plan
// PostgreSQL made while the tasks table was empty.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "fila/core/errors.h"
#include "fila/store_postgres/postgres_store.h"
#include "support/harness.h"

namespace fila::test {
namespace {

NewTask Typed(const std::string& type) {
  NewTask t;
  t.type = type;
  t.max_attempts = 1;
  t.timeout_ms = 1000;
  return t;
}

void AddTrigger(const TestDatabase& db) {
  db.Exec(R"(
CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.type = 'refused' THEN RAISE EXCEPTION 'refused by a test trigger'; END IF;
  IF NEW.type = 'slow' THEN PERFORM pg_sleep(2); END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER test_refuse BEFORE INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION test_refuse();)");
}

TEST(PostgresEnqueueEach, ATriggerRefusalFailsOnlyItsTask) {
  TestDatabase db;
  AddTrigger(db);
  PostgresStore store(db.url());
  std::vector<NewTask> group{Typed("noop"), Typed("refused"), Typed("noop")};
  auto out = store.EnqueueEach(group);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_FALSE(out[0].error);
  EXPECT_FALSE(out[2].error);
  ASSERT_TRUE(out[1].error);
  EXPECT_THROW(std::rethrow_exception(out[1].error), PermanentError);
  EXPECT_EQ(db.Count("SELECT count(*) FROM tasks"), 2);
  EXPECT_EQ(db.Count("SELECT count(*) FROM outbox"), 2);
}

TEST(PostgresEnqueueEach, ATransientErrorFailsTheWholeGroup) {
  TestDatabase db;
  AddTrigger(db);
  db.Exec("ALTER DATABASE \"" + db.Scalar("SELECT current_database()") +
          "\" SET statement_timeout = '300ms'");
  PostgresStore store(db.url());  // connects after the setting: it applies
  std::vector<NewTask> group{Typed("noop"), Typed("slow"), Typed("noop")};
  EXPECT_THROW(store.EnqueueEach(group), TransientError);
  EXPECT_EQ(db.Count("SELECT count(*) FROM tasks"), 0);
  // The store is usable afterwards.
  std::vector<NewTask> fine{Typed("noop")};
  EXPECT_FALSE(store.EnqueueEach(fine).at(0).error);
}

// A column of pg_stat_user_tables for tasks.
int64_t TasksStat(const TestDatabase& db, const std::string& column) {
  return db.Count("SELECT " + column + " FROM pg_stat_user_tables WHERE relname = 'tasks'");
}

// A session's counts are reported when it ends: waits until `column`
// reaches `expected` (they arrive together), false if they never do.
bool AwaitTasksStat(const TestDatabase& db, const std::string& column, int64_t expected) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (TasksStat(db, column) < expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return TasksStat(db, column) == expected;
}

// PostgreSQL keeps a prepared statement's plan until the table's statistics
// change, and a new database's tables get their first ones up to a minute
// after the load began (autovacuum). A plan made while tasks was empty must
// not read the whole table once it has filled: in these databases every
// plan is generic from its first run, made on an empty table.
class EmptyTablePlans {
 public:
  EmptyTablePlans() {
    db_.Exec("ALTER DATABASE \"" + db_.Scalar("SELECT current_database()") +
             "\" SET plan_cache_mode = force_generic_plan");
  }
  const TestDatabase& db() const { return db_; }
  int64_t Stat(const std::string& column) const { return TasksStat(db_, column); }
  bool AwaitCounts(const std::string& column, int64_t expected) const {
    return AwaitTasksStat(db_, column, expected);
  }
  // A store that keeps the plans it makes (no replan), with one task
  // enqueued and claimed: the claim's plan is made while tasks is empty.
  // Its id is `*first`.
  std::unique_ptr<PostgresStore> StoreWithEmptyTablePlans(std::string* first) const {
    auto store = std::make_unique<PostgresStore>(db_.url());  // connects after the setting
    store->ReplanEvery(std::chrono::milliseconds(0));
    *first = store->Enqueue(std::vector<NewTask>{Typed("noop")}).at(0).id;
    EXPECT_EQ(store->Claim(std::vector<std::string>{*first}, "w1", 60000).claimed.size(), 1u);
    return store;
  }
  // The ids of `n` new tasks enqueued through `store`.
  static std::vector<std::string> EnqueueIds(PostgresStore& store, int n) {
    std::vector<std::string> ids;
    for (const auto& e : store.Enqueue(std::vector<NewTask>(static_cast<size_t>(n), Typed("noop")))) {
      ids.push_back(e.id);
    }
    return ids;
  }
  // Rows of tasks read by scans, sequential and by index, in all.
  std::string Reads() const {
    return std::to_string(Stat("seq_tup_read") + Stat("idx_tup_fetch")) + " rows read by " +
           std::to_string(Stat("seq_scan")) + " sequential and " + std::to_string(Stat("idx_scan")) +
           " index scans of tasks";
  }
  // `n` rows of `state` straight into tasks, past the store.
  void Fill(int n, const std::string& state) const {
    db_.Exec("INSERT INTO tasks (type, queue, priority, state, max_attempts, timeout_ms) "
             "SELECT 'noop', 'default', 0, '" + state + "', 1, 1000 FROM generate_series(1, " +
             std::to_string(n) + ")");
  }

 private:
  TestDatabase db_;
};

constexpr int kRows = 20000;

TEST(PostgresPlans, AnEnqueueReadsNoWholeTableUnderAPlanMadeWhenItWasEmpty) {
  EmptyTablePlans db;
  constexpr int kEnqueues = 50;
  {
    auto store = std::make_unique<PostgresStore>(db.db().url());  // connects after the setting
    NewTask first = Typed("noop");
    first.idempotency_key = "first";
    ASSERT_FALSE(store->EnqueueEach(std::span(&first, 1)).at(0).error);
    db.Fill(kRows, "succeeded");
    for (int i = 0; i < kEnqueues; ++i) {
      NewTask t = Typed("noop");
      t.idempotency_key = "key-" + std::to_string(i);  // each new: no conflict to look up
      ASSERT_FALSE(store->EnqueueEach(std::span(&t, 1)).at(0).error);
    }
  }
  ASSERT_TRUE(db.AwaitCounts("n_tup_ins", kRows + 1 + kEnqueues)) << "the session's counts never came";
  // Reads before the table filled (the migrations, the first enqueue) are
  // a row or none; one scan after it reads 20,000.
  EXPECT_LT(db.Stat("seq_tup_read"), kRows) << db.Stat("seq_scan") << " scans of tasks in all";
}

// The workers' claim once the table filled: with 20,000 tasks waiting,
// claims of 16 read their own rows, under the plan made on the empty table
// (never dropped here). Such a plan used to reach them through an index of
// every waiting task (tasks_queued_since) and read 804,415 rows for these
// 10 claims; under a flood's backlog each claim took 3.8 ms in the
// noisy-neighbour benchmark, PostgreSQL's costliest statement. The claim
// now reaches its tasks by primary key whatever the plan.
TEST(PostgresPlans, AClaimReadsOnlyItsTasksUnderAPlanMadeWhenItWasEmpty) {
  EmptyTablePlans db;
  constexpr int kClaims = 10;
  constexpr int kBatch = 16;
  {
    std::string first;
    auto store = db.StoreWithEmptyTablePlans(&first);
    db.Fill(kRows, "queued");
    const auto ids = EmptyTablePlans::EnqueueIds(*store, kClaims * kBatch);
    for (int c = 0; c < kClaims; ++c) {
      const std::vector<std::string> batch(ids.begin() + c * kBatch, ids.begin() + (c + 1) * kBatch);
      ASSERT_EQ(store->Claim(batch, "w1", 60000).claimed.size(), static_cast<size_t>(kBatch));
    }
  }
  ASSERT_TRUE(db.AwaitCounts("n_tup_upd", 1 + kClaims * kBatch)) << "the session's counts never came";
  // Each claim reads its 16 rows a few times (the statement's parts): far
  // below one pass over the waiting tasks.
  EXPECT_LT(db.Stat("seq_tup_read") + db.Stat("idx_tup_fetch"), kRows) << db.Reads();
}

// The workers' finish, likewise: 20,000 other tasks running, finishes of
// 16 read their own rows under the plans made on the empty table (a
// sequential scan each, without enable_seqscan off: 202,577 rows).
TEST(PostgresPlans, AFinishReadsOnlyItsTasksUnderAPlanMadeWhenItWasEmpty) {
  EmptyTablePlans db;
  constexpr int kFinishes = 10;
  constexpr int kBatch = 16;
  {
    std::string first;
    auto store = db.StoreWithEmptyTablePlans(&first);
    FinishRecord done{.id = first, .attempt = 1, .worker = "w1"};
    ASSERT_EQ(store->Finish(std::span(&done, 1)), std::vector<bool>{true});
    const auto ids = EmptyTablePlans::EnqueueIds(*store, kFinishes * kBatch);
    ASSERT_EQ(store->Claim(ids, "w1", 60000).claimed.size(), ids.size());
    db.Fill(kRows, "running");
    for (int f = 0; f < kFinishes; ++f) {
      std::vector<FinishRecord> batch;
      for (int i = f * kBatch; i < (f + 1) * kBatch; ++i) {
        batch.push_back({.id = ids.at(static_cast<size_t>(i)), .attempt = 1, .worker = "w1"});
      }
      ASSERT_EQ(store->Finish(batch), std::vector<bool>(kBatch, true));
    }
  }
  ASSERT_TRUE(db.AwaitCounts("n_tup_upd", 2 + 2 * kFinishes * kBatch)) << "the session's counts never came";
  EXPECT_LT(db.Stat("seq_tup_read") + db.Stat("idx_tup_fetch"), kRows) << db.Reads();
}

// A running task's progress reports rewrite no index entry: with room on
// the row's page, each is a HOT update. Setting updated_at (indexed by
// tasks_queued_since) made none of them one.
TEST(PostgresProgress, ReportsAreHotUpdates) {
  TestDatabase db;
  db.Exec("ALTER TABLE tasks SET (fillfactor = 50)");  // room on the page for the new versions
  constexpr int kReports = 20;
  {
    PostgresStore store(db.url());
    const std::string id = store.Enqueue(std::vector<NewTask>{Typed("noop")}).at(0).id;
    ASSERT_EQ(store.Claim(std::vector<std::string>{id}, "w1", 60000).claimed.size(), 1u);
    for (int i = 1; i <= kReports; ++i) {
      const ProgressUpdate update{.id = id, .attempt = 1, .percent = i, .message = "step"};
      store.RecordProgress(std::span(&update, 1));
    }
    EXPECT_EQ(db.Count("SELECT progress FROM tasks WHERE id = '" + id + "'"), kReports);
  }
  // The claim and the reports.
  ASSERT_TRUE(AwaitTasksStat(db, "n_tup_upd", 1 + kReports)) << "the session's counts never came";
  EXPECT_GE(TasksStat(db, "n_tup_hot_upd"), kReports) << "of " << 1 + kReports << " updates";
}

}  // namespace
}  // namespace fila::test
