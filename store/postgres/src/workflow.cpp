// Workflows on PostgreSQL: enqueue with dependencies, finishes that commit
// the children a handler enqueued, admission under per-key limits, and the
// task tree.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "fila/core/errors.h"
#include "fila/core/lifecycle.h"
#include "fila/core/uuid.h"
#include "fila/core/workflow.h"
#include "fila/store_postgres/postgres_store.h"
#include "pg_support.h"
#include "store_impl.h"

namespace fila {

const std::map<std::string, std::string>& WorkflowStatements() {
  static const std::map<std::string, std::string> kStatements{
      // Locks the parents (their finish waits for this commit, and then sees
      // the new dependency rows) and marks them as having dependents.
      {"deps_lock_parents",
       "UPDATE tasks SET has_dependents = true WHERE id = ANY($1::uuid[])"
       " RETURNING id::text, tenant"},
      {"deps_insert",
       "INSERT INTO task_deps (task_id, parent_id)"
       " SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT DO NOTHING"},
      // New blocked tasks whose parents already ended are settled at once.
      {"deps_settle_new", R"(
WITH s AS (
  SELECT d.task_id AS id, bool_and(p.state = 'succeeded') AS ok,
         (array_agg(p.id::text || ' ended ' || p.state)
            FILTER (WHERE p.state IN ('failed', 'dead', 'cancelled')))[1] AS bad
  FROM task_deps d JOIN tasks p ON p.id = d.parent_id
  WHERE d.task_id = ANY($1::uuid[]) GROUP BY d.task_id
), cancelled AS (
  UPDATE tasks t SET state = 'cancelled', finished_at = now(), updated_at = now(),
         last_error = 'dependency ' || s.bad
  FROM s WHERE t.id = s.id AND s.bad IS NOT NULL AND t.state = 'blocked'
  RETURNING t.id, t.state
), ready AS (
  UPDATE tasks t SET state = CASE WHEN t.run_at > now() THEN 'scheduled' ELSE 'queued' END,
         updated_at = now()
  FROM s WHERE t.id = s.id AND s.bad IS NULL AND s.ok AND t.state = 'blocked'
  RETURNING t.id, t.state
), ob AS (
  INSERT INTO outbox (task_id) SELECT id FROM ready WHERE state = 'queued'
)
SELECT id::text, state FROM cancelled UNION ALL SELECT id::text, state FROM ready)"},
      // limit_candidates, limit_claim, limit_wait and limit_reserve take
      // their tasks by primary key only (`state || ''`: see the claim,
      // postgres_store.cpp).
      {"limit_candidates", R"(
SELECT id::text, limit_key, limit_concurrency, limit_rate, limit_period_ms,
       coalesce(limit_reserved_at <= now(), false)
FROM tasks WHERE id = ANY($1::uuid[]) AND state || '' = 'queued' AND limit_key IS NOT NULL
ORDER BY limit_key, priority DESC, run_at
FOR UPDATE)"},
      {"limit_key_ensure", "INSERT INTO limit_keys (key) VALUES ($1) ON CONFLICT DO NOTHING"},
      // The key's row lock serializes admissions; the count then sees every
      // committed claim of the key.
      {"limit_key_lock", R"(
SELECT (extract(epoch FROM k.next_start) * 1000)::bigint, (extract(epoch FROM now()) * 1000)::bigint
FROM limit_keys k WHERE k.key = $1 FOR UPDATE)"},
      {"limit_running", "SELECT count(*) FROM tasks WHERE limit_key = $1 AND state = 'running'"},
      {"limit_set_next", "UPDATE limit_keys SET next_start = to_timestamp($2 / 1000.0) WHERE key = $1"},
      {"limit_claim", R"(
UPDATE tasks SET state = 'running', attempt = attempt + 1, worker = $2,
       lease_until = now() + $3 * interval '1 millisecond', updated_at = now(),
       -- The real time of admission (after the key's lock), not the
       -- transaction's start: holders that finished meanwhile end before it.
       started_at = clock_timestamp(),
       limit_waiting = false, limit_reserved_at = NULL
WHERE id = ANY($1::uuid[]) AND state || '' = 'queued'
RETURNING id, attempt, max_attempts, timeout_ms, retry_base_ms, retry_cap_ms,
          (extract(epoch FROM created_at)*1000)::bigint, (extract(epoch FROM run_at)*1000)::bigint)"},
      // Parks a task until a concurrency unit of its key frees up: queued
      // again by the end of a holder (trigger task_limit_release, 0012), or
      // by the leader's release when its key has room nobody takes
      // ("limit_wake"). run_at is its place in line: since when it waits.
      {"limit_wait", R"(
UPDATE tasks SET state = 'scheduled', limit_waiting = true, updated_at = now(), run_at = now()
WHERE id = ANY($1::uuid[]) AND state || '' = 'queued')"},
      // Queues the waiting tasks of every key with room that no queued or
      // running task of the key takes: the wake the trigger could not give
      // (a waiter's admission committed after the holder's end, which then
      // found nobody waiting; the admission's commit notifies the leader,
      // whose release runs this). Keys are walked through the waiting
      // tasks' index, one probe each.
      {"limit_wake", R"(
WITH RECURSIVE keys(key) AS (
  (SELECT limit_key FROM tasks WHERE state = 'scheduled' AND limit_waiting
   ORDER BY limit_key LIMIT 1)
  UNION ALL
  SELECT (SELECT t.limit_key FROM tasks t
          WHERE t.state = 'scheduled' AND t.limit_waiting AND t.limit_key > keys.key
          ORDER BY t.limit_key LIMIT 1)
  FROM keys WHERE keys.key IS NOT NULL
), room AS (
  SELECT k.key, head.limit_concurrency - (SELECT count(*) FROM tasks a
                WHERE a.limit_key = k.key AND a.state IN ('queued', 'running')) AS free
  FROM keys k CROSS JOIN LATERAL (
    SELECT w.limit_concurrency FROM tasks w
    WHERE w.state = 'scheduled' AND w.limit_waiting AND w.limit_key = k.key
    ORDER BY w.priority DESC, w.run_at LIMIT 1) head
  WHERE k.key IS NOT NULL
), picked AS (
  SELECT w.id FROM room CROSS JOIN LATERAL (
    SELECT t.id FROM tasks t
    WHERE t.state = 'scheduled' AND t.limit_waiting AND t.limit_key = room.key
    ORDER BY t.priority DESC, t.run_at LIMIT greatest(room.free, 0)
    FOR UPDATE SKIP LOCKED) w
), woken AS (
  UPDATE tasks t SET state = 'queued', limit_waiting = false, updated_at = now()
  FROM picked WHERE t.id = picked.id AND t.state = 'scheduled' AND t.limit_waiting
  RETURNING t.id
), ob AS (
  INSERT INTO outbox (task_id) SELECT id FROM woken
)
SELECT count(*) FROM woken)"},
      // Waits for the rate slot it reserved.
      {"limit_reserve", R"(
UPDATE tasks SET state = 'scheduled', limit_waiting = false, updated_at = now(),
       run_at = to_timestamp($2 / 1000.0), limit_reserved_at = to_timestamp($2 / 1000.0)
WHERE id = $1::uuid AND state || '' = 'queued')"},
      {"task_tree", R"(
WITH RECURSIVE tree AS (
  SELECT id, 0 AS depth FROM tasks WHERE id = $1::uuid
  UNION ALL
  SELECT t.id, tree.depth + 1 FROM tasks t JOIN tree ON t.parent_id = tree.id WHERE tree.depth < 50
)
SELECT t.id::text, t.type, t.state, coalesce(t.parent_id::text, ''), tree.depth,
       (SELECT array_agg(d.parent_id::text ORDER BY d.parent_id)
        FROM task_deps d WHERE d.task_id = t.id),
       coalesce(t.last_error, '')
FROM tree JOIN tasks t ON t.id = tree.id
ORDER BY tree.depth, t.created_at, t.id
LIMIT $2)"},
      // The tasks of the workflow tree `id` belongs to (its root included).
      {"tree_size", R"(
SELECT 1 + count(*) FROM tasks
WHERE root_id = (SELECT coalesce(root_id, id) FROM tasks WHERE id = $1::uuid))"},
      {"task_depends_on",
       "SELECT parent_id::text FROM task_deps WHERE task_id = $1::uuid ORDER BY parent_id"},
  };
  return kStatements;
}

namespace {

void SettleDependencies(pqxx::transaction_base& tx, std::span<const NewTask> tasks,
                        std::vector<EnqueueResult>& results) {
  std::vector<std::string> child, parent;
  std::map<std::string, std::string> tenant_of_child;
  std::set<std::string> parents;
  std::vector<std::string> children;
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (tasks[i].depends_on.empty() || !results[i].created) continue;
    children.push_back(results[i].id);
    tenant_of_child[results[i].id] = tasks[i].tenant;
    for (const auto& p : tasks[i].depends_on) {
      if (p == results[i].id) throw PermanentError("a task cannot depend on itself", "depends_on");
      child.push_back(results[i].id);
      parent.push_back(p);
      parents.insert(p);
    }
  }
  if (children.empty()) return;
  RejectCycles(tasks);
  std::vector<std::string> parent_list(parents.begin(), parents.end());
  std::map<std::string, std::string> tenant_of_parent;
  for (const auto& r : tx.exec_prepared("deps_lock_parents", pg::ArrayLiteral(parent_list))) {
    tenant_of_parent[r[0].as<std::string>()] = r[1].as<std::string>();
  }
  for (size_t i = 0; i < child.size(); ++i) {
    auto it = tenant_of_parent.find(parent[i]);
    // Another tenant's task is reported like a missing one.
    if (it == tenant_of_parent.end() || it->second != tenant_of_child[child[i]]) {
      throw PermanentError("depends_on: no task " + parent[i], "depends_on");
    }
  }
  tx.exec_prepared("deps_insert", pg::ArrayLiteral(child), pg::ArrayLiteral(parent));
  std::map<std::string, TaskState> settled;
  for (const auto& r : tx.exec_prepared("deps_settle_new", pg::ArrayLiteral(children))) {
    settled[r[0].as<std::string>()] =
        ParseTaskState(r[1].as<std::string>()).value_or(TaskState::kBlocked);
  }
  for (auto& result : results) {
    if (auto it = settled.find(result.id); it != settled.end()) result.state = it->second;
  }
}

}  // namespace

std::optional<std::vector<EnqueueResult>> EnqueueIn(pqxx::transaction_base& tx,
                                                    std::span<const NewTask> tasks) {
  std::vector<std::string> type, queue, tenant, idem, payload, trace, id, parent_id, limit_key, args;
  std::vector<int> priority, max_attempts, timeout, limit_concurrency, limit_rate, limit_period, type_version;
  std::vector<int64_t> run_at, retry_base, retry_cap;
  std::string blocked = "{";
  for (const auto& t : tasks) {
    if (!t.id.empty() && !IsUuid(t.id)) throw PermanentError("task id is not a UUID", "id");
    retry_base.push_back(t.retry_base_ms);
    retry_cap.push_back(t.retry_cap_ms);
    type.push_back(t.type);
    queue.push_back(t.queue);
    priority.push_back(static_cast<int>(t.priority));
    max_attempts.push_back(static_cast<int>(t.max_attempts));
    timeout.push_back(static_cast<int>(t.timeout_ms));
    tenant.push_back(t.tenant);
    idem.push_back(t.idempotency_key);
    payload.push_back(pg::Hex(t.payload));
    trace.push_back(t.trace_id);
    run_at.push_back(t.run_at_ms);
    id.push_back(t.id);
    parent_id.push_back(t.parent_id);
    blocked += std::string(blocked.size() > 1 ? "," : "") + (t.depends_on.empty() ? "f" : "t");
    limit_key.push_back(t.limit_key);
    limit_concurrency.push_back(static_cast<int>(t.limit.max_concurrent));
    limit_rate.push_back(static_cast<int>(t.limit.rate));
    limit_period.push_back(static_cast<int>(t.limit.period.count()));
    type_version.push_back(static_cast<int>(t.type_version));
    args.push_back(pg::ValidUtf8(t.args_json));
  }
  blocked += "}";
  auto rows = tx.exec_prepared(
      "enqueue", pg::ArrayLiteral(type), pg::ArrayLiteral(queue), pg::IntArrayLiteral<int>(priority),
      pg::IntArrayLiteral<int>(max_attempts), pg::IntArrayLiteral<int>(timeout),
      pg::ArrayLiteral(tenant), pg::ArrayLiteral(idem), pg::ArrayLiteral(payload),
      pg::ArrayLiteral(trace), pg::IntArrayLiteral<int64_t>(run_at),
      pg::IntArrayLiteral<int64_t>(retry_base), pg::IntArrayLiteral<int64_t>(retry_cap),
      pg::ArrayLiteral(id), pg::ArrayLiteral(parent_id), blocked, pg::ArrayLiteral(limit_key),
      pg::IntArrayLiteral<int>(limit_concurrency), pg::IntArrayLiteral<int>(limit_rate),
      pg::IntArrayLiteral<int>(limit_period), pg::IntArrayLiteral<int>(type_version),
      pg::ArrayLiteral(args));
  std::vector<EnqueueResult> results;
  results.reserve(rows.size());
  for (const auto& row : rows) {
    if (row[0].is_null()) return std::nullopt;  // lost an idempotency race
    results.push_back({row[0].as<std::string>(),
                       ParseTaskState(row[1].as<std::string>()).value_or(TaskState::kQueued),
                       row[2].as<bool>()});
  }
  SettleDependencies(tx, tasks, results);
  return results;
}

void AdmitLimitedIn(pqxx::transaction_base& tx, const std::vector<std::string>& ids,
                    const std::string& worker, uint32_t lease_ms, ClaimResult& result) {
  if (ids.empty()) return;
  struct Candidate {
    std::string id;
    uint32_t concurrency = 0;
    uint32_t rate = 0;
    int64_t period_ms = 0;
    bool reserved_due = false;
  };
  std::map<std::string, std::vector<Candidate>> by_key;  // sorted: keys lock in one order
  for (const auto& r : tx.exec_prepared("limit_candidates", pg::ArrayLiteral(ids))) {
    by_key[r[1].as<std::string>()].push_back({r[0].as<std::string>(), r[2].as<uint32_t>(),
                                              r[3].as<uint32_t>(), r[4].as<int64_t>(),
                                              r[5].as<bool>()});
  }
  std::vector<std::string> admit, wait, deferred;
  for (auto& [key, candidates] : by_key) {
    tx.exec_prepared("limit_key_ensure", key);
    auto lock = tx.exec_prepared1("limit_key_lock", key);
    int64_t next_start = lock[0].as<int64_t>();
    const int64_t now = lock[1].as<int64_t>();
    int64_t running = tx.exec_prepared1("limit_running", key)[0].as<int64_t>();
    const int64_t start_before = next_start;
    for (const auto& cand : candidates) {
      const bool room = cand.concurrency == 0 || running < cand.concurrency;
      if (!room) {
        wait.push_back(cand.id);
        continue;
      }
      if (!cand.reserved_due) {
        // GCRA (core/lifecycle.h); a start that does not conform reserves
        // the next free slot and waits for it.
        const GcraDecision rate = DecideGcra(next_start, now, cand.rate, cand.period_ms);
        next_start = rate.next_tat;
        if (!rate.admitted) {
          tx.exec_prepared("limit_reserve", cand.id, rate.conforms_at);
          deferred.push_back(cand.id);
          continue;
        }
      }
      admit.push_back(cand.id);
      ++running;
    }
    if (next_start != start_before) tx.exec_prepared("limit_set_next", key, next_start);
  }
  if (!wait.empty()) {
    tx.exec_prepared("limit_wait", pg::ArrayLiteral(wait));
    deferred.insert(deferred.end(), wait.begin(), wait.end());
  }
  std::set<std::string> claimed;
  if (!admit.empty()) {
    for (const auto& r : tx.exec_prepared("limit_claim", pg::ArrayLiteral(admit), worker, lease_ms)) {
      result.claimed.push_back(ReadClaimed(r));
      claimed.insert(result.claimed.back().id);
    }
  }
  // Candidates that were no longer queued (claimed by another worker
  // meanwhile) are duplicates.
  const std::set<std::string> waiting(deferred.begin(), deferred.end());
  for (const auto& id : ids) {
    if (!claimed.contains(id) && !waiting.contains(id)) result.not_claimable.push_back(id);
  }
  result.deferred.insert(result.deferred.end(), deferred.begin(), deferred.end());
}

bool PostgresStore::FinishWithChildren(const FinishRecord& r) {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    if (r.max_tree_tasks > 0) {
      const auto size = tx.exec_prepared1("tree_size", r.id)[0].as<int64_t>();
      if (static_cast<size_t>(size) + r.children.size() > r.max_tree_tasks) {
        throw PermanentError("its workflow tree would hold " + std::to_string(size + r.children.size()) +
                             " tasks, over the limit of " + std::to_string(r.max_tree_tasks));
      }
    }
    const FinishRecord* one[] = {&r};
    if (ExecFinish(tx, one).empty()) return false;  // stale attempt: its children are dropped too
    if (!EnqueueIn(tx, r.children)) {
      throw TransientError("a child's idempotency key raced with a concurrent enqueue");
    }
    tx.commit();
    return true;
  });
}

std::vector<TaskTreeNode> PostgresStore::TaskTree(const std::string& id, uint32_t limit) {
  if (!IsUuid(id)) return {};
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    std::vector<TaskTreeNode> nodes;
    for (const auto& r : tx.exec_prepared("task_tree", id, limit)) {
      TaskTreeNode n;
      n.id = r[0].as<std::string>();
      n.type = r[1].as<std::string>();
      n.state = ParseTaskState(r[2].as<std::string>()).value_or(TaskState::kQueued);
      n.parent_id = r[3].as<std::string>();
      n.depth = r[4].as<uint32_t>();
      n.depends_on = pg::TextArray(r[5]);
      n.last_error = r[6].as<std::string>();
      nodes.push_back(std::move(n));
    }
    return nodes;
  });
}

}  // namespace fila
