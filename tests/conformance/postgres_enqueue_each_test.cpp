// EnqueueEach on PostgreSQL where only a real database can refuse: a
// trigger refuses one row (that task alone fails), a statement timeout
// (TransientError) fails the whole group.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace fila::test
