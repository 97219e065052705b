// PostgresStore: reconciliation with a broker that lost messages
// (LeaderStore::QueuesWithStaleTasks, CountPublished, FreeConsumerSlots,
// RepublishStale).
// A queued task's updated_at is when it became queued or was last
// republished; the index tasks_queued_since (queue, updated_at) WHERE
// state = 'queued' (migration 0012) keeps every statement here to the
// queued tasks of one queue, oldest first.
#include "fila/store_postgres/postgres_store.h"
#include "pg_support.h"
#include "store_impl.h"

namespace fila {
namespace {

// A queued task (t) whose message was published (no outbox row waits for
// it) longer than `ms_param` milliseconds ago. NOT IN, not NOT EXISTS: a
// hashed subplan over the (small) outbox keeps the scan of
// tasks_queued_since in order, so a LIMIT stops it early; as an anti-join
// it read every queued task of the queue (seconds for a million).
// outbox.task_id is never NULL.
std::string Stale(const std::string& ms_param) {
  return "t.state = 'queued' AND t.updated_at < now() - " + ms_param +
         " * interval '1 millisecond'"
         " AND t.id NOT IN (SELECT o.task_id FROM outbox o)";
}

}  // namespace

const std::map<std::string, std::string>& ReconcileStatements() {
  static const std::map<std::string, std::string> kStatements{
      // The queues with queued tasks, one index probe each (a loose index
      // scan), then whether each has a stale task (one more probe: the
      // ORDER BY makes the planner walk the index rather than the table).
      {"stale_queues", R"(
WITH RECURSIVE q(queue) AS (
  SELECT min(queue) FROM tasks WHERE state = 'queued'
  UNION ALL
  SELECT (SELECT min(t.queue) FROM tasks t WHERE t.state = 'queued' AND t.queue > q.queue)
  FROM q WHERE q.queue IS NOT NULL
)
SELECT q.queue FROM q
CROSS JOIN LATERAL (
  SELECT 1 FROM tasks t WHERE t.queue = q.queue AND )" +
           Stale("$1") + R"(
  ORDER BY t.updated_at LIMIT 1) stale
WHERE q.queue IS NOT NULL
ORDER BY q.queue)"},
      // Every queued task of the queue, less those with an outbox row (few:
      // the relay is caught up when reconciliation runs).
      {"count_published", R"(
SELECT (SELECT count(*) FROM tasks WHERE state = 'queued' AND queue = $1)
     - (SELECT count(DISTINCT t.id) FROM outbox o JOIN tasks t ON t.id = o.task_id
        WHERE t.state = 'queued' AND t.queue = $1))"},
      // Each live consumer's concurrency less its running tasks (the index
      // tasks_running_worker), never below zero.
      {"free_consumer_slots", R"(
SELECT coalesce(sum(greatest(0, w.concurrency - (
         SELECT count(*) FROM tasks t WHERE t.state = 'running' AND t.worker = w.id))), 0)::bigint
FROM workers w
WHERE $1 = ANY(w.queues) AND w.heartbeat_at > now() - $2 * interval '1 millisecond')"},
      {"republish_stale", R"(
WITH stale AS (
  SELECT t.id FROM tasks t WHERE t.queue = $1 AND )" +
           Stale("$2") + R"(
  ORDER BY t.updated_at LIMIT $3
), upd AS (
  UPDATE tasks t SET updated_at = now() FROM stale
  WHERE t.id = stale.id AND t.state = 'queued'
  RETURNING t.id
)
INSERT INTO outbox (task_id) SELECT id FROM upd RETURNING task_id)"},
  };
  return kStatements;
}

std::vector<std::string> PostgresStore::QueuesWithStaleTasks(int64_t older_than_ms) {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    std::vector<std::string> queues;
    for (const auto& r : tx.exec_prepared("stale_queues", older_than_ms)) {
      queues.push_back(r[0].as<std::string>());
    }
    return queues;
  });
}

int64_t PostgresStore::CountPublished(const std::string& queue) {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return tx.exec_prepared1("count_published", queue)[0].as<int64_t>();
  });
}

int64_t PostgresStore::FreeConsumerSlots(const std::string& queue, int64_t seen_within_ms) {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return tx.exec_prepared1("free_consumer_slots", queue, seen_within_ms)[0].as<int64_t>();
  });
}

int64_t PostgresStore::RepublishStale(const std::string& queue, int64_t older_than_ms,
                                      uint32_t limit) {
  return impl_->Run([&](pqxx::connection& c) {
    // One statement: autocommit makes the stamp and the outbox rows atomic.
    pqxx::nontransaction tx(c);
    return static_cast<int64_t>(
        tx.exec_prepared("republish_stale", queue, older_than_ms, limit).size());
  });
}

}  // namespace fila
