// The outbox's notification on PostgreSQL (migration 0021): one per (queue,
// tenant) of what a statement added, naming its highest priority, which the
// relay reads to skip passes for rows behind a held backlog
// (Dispatcher::Wanted).
#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "fila/store_postgres/postgres_store.h"
#include "support/harness.h"

namespace fila::test {
namespace {

NewTask Task(const std::string& queue, const std::string& tenant, uint32_t priority) {
  NewTask t;
  t.type = "noop";
  t.queue = queue;
  t.tenant = tenant;
  t.priority = priority;
  t.max_attempts = 1;
  t.timeout_ms = 1000;
  return t;
}

std::set<std::string> PayloadsWithin(PostgresStore& store, std::chrono::milliseconds budget) {
  std::set<std::string> out;
  const auto end = std::chrono::steady_clock::now() + budget;
  while (std::chrono::steady_clock::now() < end) {
    for (auto& p : store.AwaitPayloads(std::chrono::milliseconds(100))) out.insert(std::move(p));
  }
  return out;
}

TEST(PostgresOutboxNotify, NamesEachQueueAndTenantAddedWithItsHighestPriority) {
  TestDatabase db;
  PostgresStore listener(db.url());
  listener.Listen("fila_outbox");
  (void)listener.AwaitPayloads(std::chrono::milliseconds(1));  // the subscription is live
  PostgresStore producer(db.url());
  producer.Enqueue(std::vector<NewTask>{Task("default", "a", 0), Task("default", "a", 3),
                                        Task("default", "b", 1), Task("mail", "a", 2)});
  EXPECT_EQ(PayloadsWithin(listener, std::chrono::milliseconds(500)),
            (std::set<std::string>{"default\ta\t3", "default\tb\t1", "mail\ta\t2"}));
}

}  // namespace
}  // namespace fila::test
