// EnqueueEach on PostgreSQL where only a real database can refuse: a
// trigger refuses one row (that task alone fails), a statement timeout
// (TransientError) fails the whole group.
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

// PostgreSQL keeps a prepared statement's plan until the table's statistics
// change, and a new database's tables get their first ones up to a minute
// after the load began (autovacuum). A plan made while tasks was empty must
// not read the whole table for each enqueue: here every plan is generic
// from its first run, made on an empty table, and 20,000 rows come after.
TEST(PostgresEnqueueEach, APlanMadeOnAnEmptyTableReadsNoWholeTablePerEnqueue) {
  TestDatabase db;
  db.Exec("ALTER DATABASE \"" + db.Scalar("SELECT current_database()") +
          "\" SET plan_cache_mode = force_generic_plan");
  const std::string kStats = "SELECT {} FROM pg_stat_user_tables WHERE relname = 'tasks'";
  const auto stat = [&](const char* column) {
    std::string sql = kStats;
    return db.Count(sql.replace(sql.find("{}"), 2, column));
  };
  constexpr int kEnqueues = 50;
  {
    auto store = std::make_unique<PostgresStore>(db.url());  // connects after the setting
    NewTask first = Typed("noop");
    first.idempotency_key = "first";
    ASSERT_FALSE(store->EnqueueEach(std::span(&first, 1)).at(0).error);
    db.Exec("INSERT INTO tasks (type, queue, priority, state, max_attempts, timeout_ms) "
            "SELECT 'noop', 'default', 0, 'succeeded', 1, 1000 FROM generate_series(1, 20000)");
    for (int i = 0; i < kEnqueues; ++i) {
      NewTask t = Typed("noop");
      t.idempotency_key = "key-" + std::to_string(i);  // each new: no conflict to look up
      ASSERT_FALSE(store->EnqueueEach(std::span(&t, 1)).at(0).error);
    }
  }  // the store's session ends and reports its counts
  // Its counts arrive with its 51 inserts (the test's own 20,000 are in).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (stat("n_tup_ins") < 20000 + 1 + kEnqueues && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(stat("n_tup_ins"), 20000 + 1 + kEnqueues) << "the session's counts never arrived";
  // Scans of the table before it filled (the migrations, the first
  // enqueue) read a row or none; one scan after it reads 20,000.
  EXPECT_LT(stat("seq_tup_read"), 20000) << stat("seq_scan") << " scans of tasks in all";
}

}  // namespace
}  // namespace fila::test
