// What only the Postgres store has: concurrent enqueues racing on one
// idempotency key, the schema check, connection errors, and the migrator.
// The store contract itself is tests/conformance (run on every store).
#include <gtest/gtest.h>

#include <thread>

#include "fila/core/errors.h"
#include "fila/store_postgres/migrator.h"
#include "fila/store_postgres/postgres_store.h"
#include "fila/store_postgres/tenant_store_pg.h"
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

// A quota's check needs the count only up to one past the quota: a tenant
// with a backlog of millions is not counted to the end.
TEST(PostgresTenantStore, CountWaitingStopsAtItsBound) {
  TestDatabase db;
  PostgresStore store(db.url());
  std::vector<NewTask> tasks(5, Noop());
  for (auto& t : tasks) t.tenant = "acme";
  store.Enqueue(tasks);
  auto tenants = MakePostgresTenantStore(db.url(), 1);
  EXPECT_EQ(tenants->CountWaiting("acme", 3), 3);
  EXPECT_EQ(tenants->CountWaiting("acme", 10), 5);
  EXPECT_EQ(tenants->CountWaiting("globex", 10), 0);
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
