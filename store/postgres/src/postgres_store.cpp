#include "fila/store_postgres/postgres_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "fila/core/errors.h"
#include "fila/core/lifecycle.h"
#include "fila/core/uuid.h"
#include "fila/core/workflow.h"
#include "fila/store_postgres/migrator.h"
#include "pg_support.h"
#include "store_impl.h"
#include "fila/store_postgres/console_sql.h"

namespace fila {
namespace {

constexpr const char* kEpochMs = "(extract(epoch FROM {})*1000)::bigint";

std::string EpochMs(const std::string& column) {
  std::string expr = kEpochMs;
  return expr.replace(expr.find("{}"), 2, column);
}

// The relay's outbox rows, oldest first, leaving out the ids of $2: the
// rows first (in id order, up to $1), then their tasks.
std::string FetchOutboxSql() {
  return "SELECT o.id, t.id, t.type, t.queue, t.priority, t.attempt, t.max_attempts, "
         "t.timeout_ms, t.tenant, coalesce(t.idempotency_key, ''), t.payload, t.trace_id, " +
         EpochMs("t.created_at") +
         ", t.state, t.type_version FROM (SELECT o.id, o.task_id FROM outbox o"
         " WHERE o.id <> ALL($2::bigint[])"
         " AND NOT EXISTS (SELECT 1 FROM queue_pauses p WHERE p.queue = o.queue)"
         " ORDER BY o.id LIMIT $1) o" +
         kTaskOfOutboxRow + "ORDER BY o.id";
}

const std::string kTaskColumns =
    "t.id, t.type, t.queue, t.priority, t.state, t.attempt, t.max_attempts, t.timeout_ms, "
    "t.tenant, coalesce(t.idempotency_key, ''), t.payload, t.trace_id, coalesce(t.worker, ''), "
    "coalesce(t.last_error, ''), t.result, t.progress, t.progress_message, " +
    EpochMs("t.created_at") + ", " + EpochMs("t.run_at") + ", " + EpochMs("t.started_at") + ", " +
    EpochMs("t.finished_at") + ", t.cancel_requested" +
    ", (extract(epoch FROM t.created_at) * 1000000)::bigint"
    ", coalesce(t.parent_id::text, ''), coalesce(t.limit_key, ''), t.type_version";

// A running task (t) the reaper takes back: its lease expired, or its worker
// (w) is gone or silent for longer than $1 ms.
const std::string kLost =
    "t.state = 'running' AND (t.lease_until < now() OR w.id IS NULL"
    " OR w.heartbeat_at < now() - $1 * interval '1 millisecond')";

}  // namespace

const std::string& TaskColumns() { return kTaskColumns; }

const std::map<std::string, std::string>& Statements() {
  static const std::map<std::string, std::string> kStatements{
      {"enqueue", R"(
WITH input AS MATERIALIZED (
  SELECT coalesce(NULLIF(i.given_id, '')::uuid, gen_random_uuid()) AS id, i.*
  FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::int[], $6::text[], $7::text[],
              $8::text[], $9::text[], $10::bigint[], $11::int[], $12::int[], $13::text[],
              $14::text[], $15::bool[], $16::text[], $17::int[], $18::int[], $19::int[],
              $20::int[], $21::text[])
       WITH ORDINALITY AS i(type, queue, priority, max_attempts, timeout_ms, tenant, idem,
                            payload_hex, trace_id, run_at_ms, retry_base_ms, retry_cap_ms,
                            given_id, parent_id, blocked, limit_key, limit_concurrency,
                            limit_rate, limit_period_ms, type_version, args, ord)
), ins AS (
  INSERT INTO tasks (id, type, queue, priority, state, max_attempts, attempt_budget, timeout_ms,
                     tenant, idempotency_key, payload, trace_id, run_at, retry_base_ms,
                     retry_cap_ms, parent_id, root_id, limit_key, limit_concurrency, limit_rate,
                     limit_period_ms, type_version, args)
  SELECT id, type, queue, priority,
         CASE WHEN blocked THEN 'blocked'
              WHEN run_at_ms > 0 AND to_timestamp(run_at_ms / 1000.0) > now()
              THEN 'scheduled' ELSE 'queued' END,
         max_attempts, max_attempts, timeout_ms, tenant, NULLIF(idem, ''),
         decode(payload_hex, 'hex'), trace_id,
         CASE WHEN run_at_ms > 0 THEN to_timestamp(run_at_ms / 1000.0) ELSE now() END,
         retry_base_ms, retry_cap_ms, NULLIF(parent_id, '')::uuid,
         CASE WHEN input.parent_id <> '' THEN
           (SELECT coalesce(p.root_id, p.id) FROM tasks p WHERE p.id = input.parent_id::uuid) END,
         NULLIF(limit_key, ''),
         limit_concurrency, limit_rate, limit_period_ms, type_version, NULLIF(args, '')::jsonb
  FROM input ORDER BY ord
  ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING id, state, tenant, idempotency_key, queue, priority
), outbox_rows AS (
  -- The dispatch columns given here spare the outbox_fill trigger a lookup
  -- of each task (migration 0014).
  INSERT INTO outbox (task_id, queue, tenant, priority)
  SELECT id, queue, tenant, priority FROM ins WHERE state = 'queued'
)
SELECT COALESCE(ins.id, dup.id, old.id), COALESCE(ins.state, dup.state, old.state),
       ins.id IS NOT NULL
FROM input i
LEFT JOIN ins ON ins.id = i.id
LEFT JOIN ins dup ON ins.id IS NULL AND i.idem <> '' AND dup.tenant = i.tenant
                 AND dup.idempotency_key = i.idem
-- Looked up only for a key that conflicted (LIMIT 1 keeps it a subquery
-- gated by its first three conditions). As a join, a plan cached while
-- tasks was small scanned the whole table for every enqueue on a new
-- database until autovacuum first analyzed it (430 scans a second at
-- 1,500 single enqueues a second, auto_explain).
LEFT JOIN LATERAL (
  SELECT o.id, o.state FROM tasks o
  WHERE ins.id IS NULL AND dup.id IS NULL AND i.idem <> ''
    AND o.tenant = i.tenant AND o.idempotency_key = i.idem
  LIMIT 1) old ON true
ORDER BY i.ord)"},
      {"fetch_outbox", FetchOutboxSql()},
      {"delete_outbox", "DELETE FROM outbox WHERE id = ANY($1::bigint[])"},
      {"release_due", R"(
WITH due AS (
  SELECT id FROM tasks WHERE state = 'scheduled' AND NOT limit_waiting AND run_at <= now()
  ORDER BY run_at LIMIT $1 FOR UPDATE SKIP LOCKED
), upd AS (
  UPDATE tasks t SET state = 'queued', updated_at = now()
  FROM due WHERE t.id = due.id AND t.state = 'scheduled'
  RETURNING t.id, t.queue, t.tenant, t.priority
), ob AS (
  INSERT INTO outbox (task_id, queue, tenant, priority) SELECT id, queue, tenant, priority FROM upd
)
SELECT (SELECT count(*) FROM upd),
       (SELECT (extract(epoch FROM min(run_at) - now()) * 1000)::bigint FROM tasks
        WHERE state = 'scheduled' AND NOT limit_waiting AND id NOT IN (SELECT id FROM due)))"},
      // Claims the plain tasks of $1 (queued, no limit key) and reports the
      // rest: 'limited' (queued under a limit key: the admission's) or
      // 'other' (not claimable: a duplicate); an id without a row is
      // unknown. With $4, claims nothing when one of $1 is 'limited': the
      // caller then claims the batch in one transaction with the admission.
      // A queued task of a paused queue is 'paused': not started, and its
      // outbox row written back in this statement (the relay holds it
      // until the resume); a rare second row only publishes a duplicate,
      // which a claim drops, so the outbox needs no index on task_id.
      // The tasks are reached by primary key only: `state || ''` matches
      // no index and implies no partial index's predicate. Compared as
      // `state = 'queued'`, plans (generic ones, and custom ones made on a
      // table never analyzed) joined the primary key with a scan of the
      // whole partial index of queued tasks (tasks_queued_since): 1,368
      // buffers per claim of 1.4 tasks under the noisy-neighbour
      // benchmark's backlog (pg_stat_statements), 78 by key.
      {"claim", R"(
WITH paused AS (
  SELECT t.id FROM tasks t
  WHERE t.id = ANY($1::uuid[]) AND t.state || '' = 'queued'
    AND EXISTS (SELECT 1 FROM queue_pauses p WHERE p.queue = t.queue)
), limited AS (
  SELECT id FROM tasks
  WHERE id = ANY($1::uuid[]) AND state || '' = 'queued' AND limit_key IS NOT NULL
    AND id NOT IN (SELECT id FROM paused)
), go AS (
  SELECT NOT ($4 AND EXISTS (SELECT 1 FROM limited)) AS go
), bounced AS (
  INSERT INTO outbox (task_id) SELECT id FROM paused WHERE (SELECT go FROM go)
), claimed AS (
  UPDATE tasks SET state = 'running', attempt = attempt + 1, worker = $2,
         lease_until = now() + $3 * interval '1 millisecond', started_at = now(), updated_at = now()
  WHERE id = ANY($1::uuid[]) AND state || '' = 'queued' AND limit_key IS NULL
    AND id NOT IN (SELECT id FROM paused) AND (SELECT go FROM go)
  RETURNING id, attempt, max_attempts, timeout_ms, retry_base_ms, retry_cap_ms, )" +
           EpochMs("created_at") + ", " + EpochMs("run_at") + R"(
)
SELECT *, 'claimed'::text FROM claimed
UNION ALL
SELECT t.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       CASE WHEN t.id IN (SELECT id FROM limited) THEN 'limited'
            WHEN t.id IN (SELECT id FROM paused) THEN 'paused' ELSE 'other' END
FROM tasks t WHERE t.id = ANY($1::uuid[]) AND t.id NOT IN (SELECT id FROM claimed))"},
      {"finish", R"(
WITH f AS (
  SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::bigint[], $8::text[], $9::text[])
         AS f(id, attempt, state, outcome, error, error_kind, retry_at_ms, result_hex, worker)
), upd AS (
  UPDATE tasks t SET
    state = f.state,
    finished_at = CASE WHEN f.state IN ('succeeded', 'failed', 'dead', 'cancelled')
                       THEN now() END,
    run_at = CASE WHEN f.state = 'scheduled' THEN to_timestamp(f.retry_at_ms / 1000.0)
                  ELSE t.run_at END,
    last_error = CASE WHEN f.error <> '' THEN f.error ELSE t.last_error END,
    result = CASE WHEN f.result_hex <> '' THEN decode(f.result_hex, 'hex') ELSE t.result END,
    progress = CASE WHEN f.state = 'succeeded' THEN 100 ELSE t.progress END,
    lease_until = NULL,
    updated_at = now()
  FROM f
  WHERE t.id = f.id AND t.attempt = f.attempt AND t.state || '' = 'running'  -- by key (see claim)
  RETURNING t.id, t.attempt, t.started_at
), attempts AS (
  INSERT INTO task_attempts (task_id, attempt, worker, outcome, error, error_kind, started_at,
                             retry_at)
  SELECT f.id, f.attempt, f.worker, f.outcome, f.error, f.error_kind, upd.started_at,
         CASE WHEN f.state = 'scheduled' THEN to_timestamp(f.retry_at_ms / 1000.0) END
  FROM f JOIN upd ON upd.id = f.id AND upd.attempt = f.attempt
  ON CONFLICT (task_id, attempt) DO NOTHING
)
SELECT id, attempt FROM upd)"},
      // No updated_at: nothing reads it for a running task (it says since
      // when a queued one waits, tasks_queued_since), and setting it, an
      // indexed column, made every report write an entry into each index
      // of tasks. Without it a report can be a HOT update.
      {"progress", R"(
UPDATE tasks t SET progress = p.percent, progress_message = p.message
FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[]) AS p(id, attempt, percent, message)
WHERE t.id = p.id AND t.attempt = p.attempt AND t.state || '' = 'running')"},
      {"heartbeat", R"(
WITH w AS (
  INSERT INTO workers (id, hostname, pid, queues, concurrency, heartbeat_at, succeeded, failed,
                       finished_by_queue, version)
  VALUES ($1, $2, $3, $4::text[], $5, now(), $7, $8,
          (SELECT coalesce(jsonb_object_agg(q, n), '{}')
           FROM unnest($9::text[], $10::bigint[]) AS u(q, n)), $12)
  ON CONFLICT (id) DO UPDATE SET hostname = EXCLUDED.hostname, pid = EXCLUDED.pid,
    queues = EXCLUDED.queues, concurrency = EXCLUDED.concurrency, heartbeat_at = now(),
    succeeded = EXCLUDED.succeeded, failed = EXCLUDED.failed,
    finished_by_queue = EXCLUDED.finished_by_queue, version = EXCLUDED.version
  RETURNING draining
), leases AS (
  -- A held task whose row another transaction holds (its finish, a commit
  -- with its children, the reaper) is skipped: the beat must not wait
  -- behind it, and the next beat renews that lease (several fit in one).
  UPDATE tasks SET lease_until = now() + $6 * interval '1 millisecond'
  WHERE id IN (SELECT id FROM tasks WHERE id = ANY($11::uuid[]) AND worker = $1
                 AND state = 'running' FOR UPDATE SKIP LOCKED)
)
-- An operator's drain (POST /v1/workers/{id}:drain) reaches the worker here.
SELECT draining FROM w)"},
      {"deregister", "DELETE FROM workers WHERE id = $1"},
      {"cancel_requested",
       "SELECT id, attempt FROM tasks WHERE worker = $1 AND state = 'running' AND cancel_requested"},
      // The lost tasks, locked; what becomes of each is DecideLostAttempt's
      // (core/lifecycle.h), applied by "reap_apply" in the same transaction.
      {"reap_lock", R"(
SELECT t.id, t.attempt, t.max_attempts, t.cancel_requested,
       coalesce(t.lease_until < now(), false), w.id IS NOT NULL
FROM tasks t LEFT JOIN workers w ON w.id = t.worker
WHERE )" + kLost + R"(
  AND (cardinality($3::uuid[]) = 0 OR t.id = ANY($3::uuid[]))
ORDER BY t.started_at
LIMIT $2
FOR UPDATE OF t SKIP LOCKED)"},
      {"reap_apply", R"(
WITH d AS (
  SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[]) AS d(id, attempt, state, reason)
), upd AS (
  UPDATE tasks t SET
    state = d.state,
    finished_at = CASE WHEN d.state <> 'queued' THEN now() END,
    -- The attempt row names the worker; the task's error (which producers
    -- read) does not name hosts.
    last_error = d.reason,
    lease_until = NULL,
    updated_at = now()
  FROM d
  WHERE t.id = d.id AND t.attempt = d.attempt AND t.state = 'running'
  RETURNING t.id, t.attempt, t.worker, d.reason, t.started_at, t.state, t.queue, t.type
), attempts AS (
  INSERT INTO task_attempts (task_id, attempt, worker, outcome, error, error_kind, started_at)
  SELECT id, attempt, coalesce(worker, ''), 'lost', reason, 'lost', started_at FROM upd
  ON CONFLICT (task_id, attempt) DO NOTHING
), ob AS (
  INSERT INTO outbox (task_id) SELECT id FROM upd WHERE state = 'queued'
)
SELECT id, attempt, coalesce(worker, ''), queue, type FROM upd)"},
      // The tasks "reap_lock" would take, without taking them: looked at one
      // by one when the database refuses the batch.
      {"reap_candidates", "SELECT t.id FROM tasks t LEFT JOIN workers w ON w.id = t.worker WHERE " +
                              kLost + " ORDER BY t.started_at LIMIT $2"},
      {"cancel", R"(
WITH now_cancelled AS (
  UPDATE tasks SET state = 'cancelled', finished_at = now(), updated_at = now()
  WHERE id = $1::uuid AND state IN ('queued', 'scheduled', 'blocked')
  RETURNING state
), flagged AS (
  UPDATE tasks SET cancel_requested = true, updated_at = now()
  WHERE id = $1::uuid AND state = 'running' AND NOT cancel_requested
  RETURNING state
)
SELECT state, true FROM now_cancelled
UNION ALL SELECT state, true FROM flagged
UNION ALL SELECT state, false FROM tasks WHERE id = $1::uuid
LIMIT 1)"},
      {"replay", R"(
WITH upd AS (
  UPDATE tasks SET state = 'queued', max_attempts = attempt + attempt_budget,
         cancel_requested = false, finished_at = NULL, run_at = now(), updated_at = now()
  WHERE id = ANY($1::uuid[]) AND state IN ('failed', 'dead', 'cancelled')
  RETURNING id
), ob AS (
  INSERT INTO outbox (task_id) SELECT id FROM upd
)
SELECT id FROM upd)"},
      {"dead_ids", "SELECT id FROM tasks WHERE state = 'dead' AND ($1 = '' OR type = $1)"},
      {"get_task", "SELECT " + kTaskColumns + " FROM tasks t WHERE t.id = $1::uuid"},
      {"get_attempts",
       "SELECT attempt, worker, outcome, error, error_kind, " + EpochMs("started_at") + ", " +
           EpochMs("finished_at") + ", " + EpochMs("retry_at") +
           " FROM task_attempts WHERE task_id = $1::uuid ORDER BY attempt"},
      {"queue_counts",
       "SELECT queue, state, count(*) FROM tasks WHERE ($1 = '' OR tenant = $1)"
       " GROUP BY queue, state ORDER BY queue, state"},
      {"queue_oldest",
       "SELECT queue, extract(epoch FROM now() - min(run_at))::float8 FROM tasks"
       " WHERE state = 'queued' AND ($1 = '' OR tenant = $1) GROUP BY queue"},
      {"queue_mean_run",
       "SELECT queue, avg(extract(epoch FROM finished_at - started_at))::float8 FROM tasks"
       " WHERE state = 'succeeded' AND finished_at > now() - interval '1 hour'"
       " AND ($1 = '' OR tenant = $1) GROUP BY queue"},
      {"delete_terminal",
       "DELETE FROM tasks WHERE id = $1::uuid"
       " AND state IN ('succeeded', 'failed', 'dead', 'cancelled') RETURNING id"},
      {"create_token", R"(
WITH secret AS (
  SELECT 'fila_' || replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '') AS token
), ins AS (
  INSERT INTO api_tokens (tenant, role, hash)
  SELECT $1, $2, sha256(convert_to(token, 'UTF8')) FROM secret
  RETURNING id, tenant, role, created_at
)
SELECT ins.id, ins.tenant, ins.role, )" + EpochMs("ins.created_at") + R"(, secret.token
FROM ins, secret)"},
      {"authenticate",
       "SELECT id, tenant, role, " + EpochMs("created_at") +
           " FROM api_tokens WHERE hash = sha256(convert_to($1, 'UTF8')) AND revoked_at IS NULL"},
      {"revoke_token",
       "UPDATE api_tokens SET revoked_at = now() WHERE id = $1::uuid AND revoked_at IS NULL"
       " RETURNING id"},
      {"list_tokens", "SELECT id, tenant, role, " + EpochMs("created_at") + ", " +
                          EpochMs("revoked_at") + " FROM api_tokens ORDER BY created_at"},
      {"count_by_queue_state",
       "SELECT queue, state, count(*) FROM tasks GROUP BY queue, state ORDER BY queue, state"},
      {"count_active",
       "SELECT count(*) FROM tasks WHERE state IN ('queued', 'scheduled', 'running')"},
  };
  return kStatements;
}

namespace {

TaskView ReadTask(const pqxx::row& r) {
  TaskView v;
  v.id = r[0].as<std::string>();
  v.type = r[1].as<std::string>();
  v.queue = r[2].as<std::string>();
  v.priority = r[3].as<uint32_t>();
  v.state = ParseTaskState(r[4].as<std::string>()).value_or(TaskState::kQueued);
  v.attempt = r[5].as<uint32_t>();
  v.max_attempts = r[6].as<uint32_t>();
  v.timeout_ms = r[7].as<uint32_t>();
  v.tenant = r[8].as<std::string>();
  v.idempotency_key = r[9].as<std::string>();
  v.payload = pg::Bytes(r[10]);
  v.trace_id = r[11].as<std::string>();
  v.worker = r[12].as<std::string>();
  v.last_error = r[13].as<std::string>();
  v.result = pg::Bytes(r[14]);
  v.progress = r[15].as<int32_t>();
  v.progress_message = r[16].as<std::string>();
  v.created_at_ms = pg::Int64OrZero(r[17]);
  v.run_at_ms = pg::Int64OrZero(r[18]);
  v.started_at_ms = pg::Int64OrZero(r[19]);
  v.finished_at_ms = pg::Int64OrZero(r[20]);
  v.cancel_requested = r[21].as<bool>();
  v.created_at_us = r[22].as<int64_t>();
  v.parent_id = r[23].as<std::string>();
  v.limit_key = r[24].as<std::string>();
  v.type_version = r[25].as<uint32_t>();
  return v;
}

}  // namespace

ClaimedTask ReadClaimed(const pqxx::row& r) {
  ClaimedTask t;
  t.id = r[0].as<std::string>();
  t.attempt = r[1].as<uint32_t>();
  t.max_attempts = r[2].as<uint32_t>();
  t.timeout_ms = r[3].as<uint32_t>();
  t.retry_base_ms = r[4].as<uint32_t>();
  t.retry_cap_ms = r[5].as<uint32_t>();
  t.created_at_ms = pg::Int64OrZero(r[6]);
  t.due_at_ms = pg::Int64OrZero(r[7]);
  return t;
}


PostgresStore::PostgresStore(std::string url) : impl_(std::make_unique<Impl>()) {
  impl_->url = std::move(url);
}

PostgresStore::~PostgresStore() = default;

void PostgresStore::Connect() {
  impl_->Run([](pqxx::connection&) { return 0; });
}

void PostgresStore::ReplanEvery(std::chrono::milliseconds interval) {
  impl_->replan_every = interval;
  impl_->replan_at = std::chrono::steady_clock::now() + interval;
}

void PostgresStore::RequireSchema() {
  int current = impl_->Run([](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    auto exists = tx.exec1("SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (!exists[0].as<bool>()) return 0;
    return tx.exec1("SELECT coalesce(max(version), 0) FROM schema_migrations")[0].as<int>();
  });
  const int required = RequiredSchemaVersion();
  if (current < required) {
    throw PermanentError("database schema is at version " + std::to_string(current) +
                         " but this build needs version " + std::to_string(required) +
                         ": run `fila migrate up`");
  }
}

bool PostgresStore::TryLeadership(int64_t key) {
  return impl_->Run([&](pqxx::connection& c) {
    if (!impl_->leader) {
      pqxx::nontransaction tx(c);
      impl_->leader = tx.exec_params1("SELECT pg_try_advisory_lock($1)", key)[0].as<bool>();
    }
    return impl_->leader;
  });
}

void PostgresStore::Listen(const std::string& channel) {
  impl_->channels.push_back(channel);
  if (impl_->conn) {
    impl_->Run([&](pqxx::connection& c) {
      impl_->receivers.push_back(
          std::make_unique<Receiver>(c, channel, impl_->notified, impl_->payloads));
      return 0;
    });
  }
}

void PostgresStore::Unlisten(const std::string& channel) {
  std::erase(impl_->channels, channel);
  // A receiver's destructor UNLISTENs (when the connection is open; else
  // the next connection does not listen).
  std::erase_if(impl_->receivers, [&](const auto& r) { return r->channel() == channel; });
  if (!impl_->conn) return;
  impl_->Run([&](pqxx::connection& c) {
    // What libpq read already and nobody will: delivered to no receiver, freed.
    c.get_notifs();
    return 0;
  });
  if (impl_->channels.empty()) {
    impl_->payloads.clear();
    impl_->notified = false;
  }
}

bool PostgresStore::AwaitNotification(std::chrono::milliseconds timeout) {
  return impl_->Run([&](pqxx::connection& c) {
    impl_->notified = false;
    if (c.get_notifs() == 0 && !impl_->notified) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
      c.await_notification(static_cast<long>(us / 1000000), static_cast<long>(us % 1000000));
    }
    bool got = impl_->notified;
    impl_->notified = false;
    return got;
  });
}

std::vector<std::string> PostgresStore::AwaitPayloads(std::chrono::milliseconds timeout) {
  (void)AwaitNotification(timeout);
  // The relay's channel has no payloads; only notifications that carry one
  // are returned.
  std::vector<std::string> out;
  out.swap(impl_->payloads);
  return out;
}

bool PostgresStore::Reconnected() {
  bool was = impl_->reconnected;
  impl_->reconnected = false;
  return was;
}

std::vector<EnqueueResult> PostgresStore::Enqueue(std::span<const NewTask> tasks) {
  if (tasks.empty()) return {};
  // A concurrent enqueue with the same key may commit after this
  // statement's snapshot: its id is then not visible here. A new statement
  // (a new snapshot) sees it, so the race costs a retry, not an error.
  constexpr int kRaceRetries = 5;
  for (int attempt = 1;; ++attempt) {
    auto results = impl_->Run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      auto r = EnqueueIn(tx, tasks);
      if (r) tx.commit();
      return r;
    });
    if (results) return std::move(*results);
    if (attempt == kRaceRetries) {
      throw TransientError("idempotency key kept racing with concurrent enqueues");
    }
  }
}

Envelope EnvelopeFromRow(const pqxx::row& r, int at) {
  Envelope e;
  e.id = r[at].as<std::string>();
  e.type = r[at + 1].as<std::string>();
  e.queue = r[at + 2].as<std::string>();
  e.priority = r[at + 3].as<uint32_t>();
  e.attempt = r[at + 4].as<uint32_t>();
  e.max_attempts = r[at + 5].as<uint32_t>();
  e.timeout_ms = r[at + 6].as<uint32_t>();
  e.tenant = r[at + 7].as<std::string>();
  e.idempotency_key = r[at + 8].as<std::string>();
  e.payload = pg::Bytes(r[at + 9]);
  e.trace_id = r[at + 10].as<std::string>();
  e.enqueued_at_unix_ms = pg::Int64OrZero(r[at + 11]);
  e.type_version = r[at + 13].as<uint32_t>();
  if (r[at + 12].as<std::string>() != "queued") e.queue.clear();
  return e;
}

std::vector<OutboxItem> PostgresStore::FetchOutbox(uint32_t limit,
                                                   std::span<const int64_t> exclude) {
  const std::string skip = pg::IntArrayLiteral<int64_t>(exclude);
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    // With ids to leave out, an unnamed statement: planned with the array
    // as a constant, PostgreSQL hashes it (a prepared statement's generic
    // plan compares each row with every id: ~30 ms for 2,000 in flight).
    auto rows = exclude.empty() ? tx.exec_prepared("fetch_outbox", limit, skip)
                                : tx.exec_params(FetchOutboxSql(), limit, skip);
    std::vector<OutboxItem> items;
    items.reserve(rows.size());
    for (const auto& r : rows) {
      OutboxItem item;
      item.outbox_id = r[0].as<int64_t>();
      item.envelope = EnvelopeFromRow(r, 1);
      item.publish_priority = item.envelope.priority;
      items.push_back(std::move(item));
    }
    return items;
  });
}

void PostgresStore::DeleteOutbox(std::span<const int64_t> outbox_ids) {
  if (outbox_ids.empty()) return;
  impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    tx.exec_prepared("delete_outbox", pg::IntArrayLiteral<int64_t>(outbox_ids));
    return 0;
  });
}

int64_t PostgresStore::ReleaseDue(uint32_t limit, int64_t* next_due_in_ms) {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto row = tx.exec_prepared1("release_due", limit);
    // Tasks waiting for their limit key are not due at any time: released
    // when their key has room (see "limit_wake").
    const auto woken = tx.exec_prepared1("limit_wake")[0].as<int64_t>();
    tx.commit();
    if (next_due_in_ms != nullptr) *next_due_in_ms = row[1].is_null() ? -1 : row[1].as<int64_t>();
    return row[0].as<int64_t>() + woken;
  });
}

namespace {

// Reads the rows of "claim" for `ids` into `result`; returns the ids that
// wait for the limits' admission (queued under a limit key, not claimed).
std::vector<std::string> ReadClaim(const pqxx::result& rows, std::span<const std::string> ids,
                                   ClaimResult& result) {
  std::vector<std::string> limited;
  std::set<std::string> seen;
  for (const auto& r : rows) {
    std::string id = r[0].as<std::string>();
    const std::string kind = r[8].as<std::string>();
    seen.insert(id);
    if (kind == "claimed") {
      result.claimed.push_back(ReadClaimed(r));
    } else if (kind == "limited") {
      limited.push_back(std::move(id));
    } else if (kind == "paused") {
      result.paused.push_back(std::move(id));
    } else {
      result.not_claimable.push_back(std::move(id));
    }
  }
  for (const auto& id : ids) {
    if (!seen.contains(id)) result.unknown.push_back(id);
  }
  return limited;
}

}  // namespace

ClaimResult PostgresStore::Claim(std::span<const std::string> ids, const std::string& worker,
                                 uint32_t lease_ms) {
  ClaimResult result;
  std::vector<std::string> valid;
  for (const auto& id : ids) {
    if (IsUuid(id)) {
      valid.push_back(id);
    } else {
      result.unknown.push_back(id);
    }
  }
  if (valid.empty()) return result;
  const auto claim = [&](pqxx::transaction_base& tx, bool unless_limited, ClaimResult& out) {
    return ReadClaim(tx.exec_prepared("claim", pg::ArrayLiteral(valid), worker, lease_ms, unless_limited),
                     valid, out);
  };
  // One statement, one round trip, its own commit: the usual batch (no
  // task under a per-key limit) is claimed here.
  // Its plan reaches the tasks by primary key only: a generic one serves.
  std::optional<ClaimResult> plain = impl_->Run(
      [&](pqxx::connection& c) -> std::optional<ClaimResult> {
        pqxx::nontransaction tx(c);
        ClaimResult out;
        if (!claim(tx, true, out).empty()) return std::nullopt;  // nothing was claimed
        return out;
      },
      Plans::kGeneric);
  // A batch with limited tasks: the claim and their admission in one
  // transaction. Committed apart, a failed admission left the plain tasks
  // claimed while the caller, seeing the call fail, would never run them:
  // an attempt burnt each, taken back by the reaper.
  const auto claim_and_admit = [&](pqxx::connection& c) {
    pqxx::work tx(c);
    ClaimResult both;
    const std::vector<std::string> limited = claim(tx, false, both);
    AdmitLimitedIn(tx, limited, worker, lease_ms, both);
    tx.commit();
    return both;
  };
  // The admission's statements reach tasks and keys by key too: under the
  // claim's plans, a worker's claims never switch the session's settings.
  ClaimResult out = plain ? std::move(*plain) : impl_->Run(claim_and_admit, Plans::kGeneric);
  out.unknown.insert(out.unknown.end(), result.unknown.begin(), result.unknown.end());
  return out;
}

pqxx::result ExecFinish(pqxx::transaction_base& tx, std::span<const FinishRecord* const> records) {
  std::vector<std::string> id, state, outcome, error, kind, result, worker;
  std::vector<int64_t> attempt, retry_at;
  for (const FinishRecord* p : records) {
    const FinishRecord& r = *p;
    id.push_back(r.id);
    attempt.push_back(r.attempt);
    state.emplace_back(ToString(r.state));
    outcome.emplace_back(ToString(r.outcome));
    error.push_back(pg::StoredText(r.error));
    kind.push_back(pg::StoredText(r.error_kind));
    retry_at.push_back(r.retry_at_ms);
    result.push_back(pg::Hex(r.result));
    worker.push_back(r.worker);
  }
  return tx.exec_prepared("finish", pg::ArrayLiteral(id), pg::IntArrayLiteral<int64_t>(attempt),
                          pg::ArrayLiteral(state), pg::ArrayLiteral(outcome),
                          pg::ArrayLiteral(error), pg::ArrayLiteral(kind),
                          pg::IntArrayLiteral<int64_t>(retry_at), pg::ArrayLiteral(result),
                          pg::ArrayLiteral(worker));
}

std::vector<bool> PostgresStore::Finish(std::span<const FinishRecord> records) {
  std::vector<bool> applied(records.size(), false);
  if (records.empty()) return applied;
  auto commit_plain = [&](std::span<const FinishRecord* const> plain) {
    if (plain.empty()) return;
    // Its tasks are reached by primary key only: a generic plan serves.
    auto rows = impl_->Run(
        [&](pqxx::connection& c) {
          // One statement, so autocommit is one atomic commit and one round
          // trip (a pqxx::work adds BEGIN and COMMIT: three).
          pqxx::nontransaction tx(c);
          return ExecFinish(tx, plain);
        },
        Plans::kGeneric);
    for (const auto& row : rows) {
      auto row_id = row[0].as<std::string>();
      auto row_attempt = row[1].as<uint32_t>();
      for (size_t i = 0; i < records.size(); ++i) {
        if (records[i].id == row_id && records[i].attempt == row_attempt) applied[i] = true;
      }
    }
  };
  // The records without children share one statement, first: when it
  // throws, nothing of this call was committed, so the caller may split the
  // batch and call again. Successes with children then commit one by one
  // with their children.
  std::vector<const FinishRecord*> plain;
  std::vector<size_t> with_children;
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].children.empty() || records[i].state != TaskState::kSucceeded) {
      plain.push_back(&records[i]);
    } else {
      with_children.push_back(i);
    }
  }
  commit_plain(plain);
  std::vector<FinishRecord> rejected;  // children refused: the task fails
  for (size_t i : with_children) {
    const FinishRecord& r = records[i];
    try {
      applied[i] = FinishWithChildren(r);
    } catch (const PermanentError& e) {
      FinishRecord failed = ChildrenRefused(r, e.what());
      rejected.push_back(std::move(failed));
    }
  }
  std::vector<const FinishRecord*> failed;
  for (const auto& r : rejected) failed.push_back(&r);
  commit_plain(failed);
  return applied;
}

void PostgresStore::RecordProgress(std::span<const ProgressUpdate> updates) {
  if (updates.empty()) return;
  std::vector<std::string> id, message;
  std::vector<int64_t> attempt, percent;
  for (const auto& u : updates) {
    id.push_back(u.id);
    attempt.push_back(u.attempt);
    percent.push_back(std::clamp(u.percent, 0, 100));
    message.push_back(pg::StoredText(u.message));
  }
  // By key, as the finish that shares the worker's connection: under the
  // same plans, the session's settings never switch between the two.
  impl_->Run(
      [&](pqxx::connection& c) {
        pqxx::nontransaction tx(c);
        tx.exec_prepared("progress", pg::ArrayLiteral(id), pg::IntArrayLiteral<int64_t>(attempt),
                         pg::IntArrayLiteral<int64_t>(percent), pg::ArrayLiteral(message));
        return 0;
      },
      Plans::kGeneric);
}

bool PostgresStore::Heartbeat(const WorkerInfo& worker, uint32_t lease_ms) {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    std::vector<std::string> queues;
    std::vector<int64_t> finished;
    for (const auto& [queue, n] : worker.finished_by_queue) {
      queues.push_back(queue);
      finished.push_back(static_cast<int64_t>(n));
    }
    auto rows = tx.exec_prepared("heartbeat", worker.id, worker.hostname, worker.pid,
                     pg::ArrayLiteral(worker.queues), worker.concurrency, lease_ms,
                     static_cast<int64_t>(worker.succeeded), static_cast<int64_t>(worker.failed),
                     pg::ArrayLiteral(queues), pg::IntArrayLiteral<int64_t>(finished),
                     pg::ArrayLiteral(worker.held), worker.version);
    return !rows.empty() && rows[0][0].as<bool>();
  });
}

void PostgresStore::Deregister(const std::string& worker_id) {
  impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    tx.exec_prepared("deregister", worker_id);
    return 0;
  });
}

std::vector<AttemptRef> PostgresStore::CancelRequested(const std::string& worker_id) {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    std::vector<AttemptRef> refs;
    for (const auto& r : tx.exec_prepared("cancel_requested", worker_id)) {
      refs.push_back({r[0].as<std::string>(), r[1].as<uint32_t>()});
    }
    return refs;
  });
}

std::vector<ReapedTask> PostgresStore::ReapLost(uint32_t worker_timeout_ms, uint32_t limit) {
  // `only` empty: every lost task (up to `limit`); else just these.
  auto reap = [&](const std::vector<std::string>& only) {
    return impl_->Run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      std::map<std::string, ReapDecision> decided;
      std::vector<std::string> ids, states, reasons;
      std::vector<int64_t> attempts;
      for (const auto& r : tx.exec_prepared("reap_lock", worker_timeout_ms, limit, pg::ArrayLiteral(only))) {
        const auto d = DecideLostAttempt({r[1].as<uint32_t>(), r[2].as<uint32_t>(), r[3].as<bool>(),
                                          r[4].as<bool>(), r[5].as<bool>()});
        ids.push_back(r[0].as<std::string>());
        attempts.push_back(r[1].as<int64_t>());
        states.emplace_back(ToString(d.state));
        reasons.emplace_back(ToString(d.reason));
        decided.emplace(ids.back(), d);
      }
      std::vector<ReapedTask> reaped;
      if (ids.empty()) return reaped;
      for (const auto& r : tx.exec_prepared("reap_apply", pg::ArrayLiteral(ids),
                                            pg::IntArrayLiteral<int64_t>(attempts),
                                            pg::ArrayLiteral(states), pg::ArrayLiteral(reasons))) {
        const ReapDecision& d = decided.at(r[0].as<std::string>());
        reaped.push_back({r[0].as<std::string>(), r[1].as<uint32_t>(), r[2].as<std::string>(),
                          d.reason, d.state, r[3].as<std::string>(), r[4].as<std::string>()});
      }
      tx.commit();
      return reaped;
    });
  };
  try {
    return reap({});
  } catch (const PermanentError&) {
    // One task the database refuses to take back (a trigger, its
    // dependents' settlement) must not keep every other lost task running:
    // they are taken back one at a time, and the refused ones skipped (and
    // logged once each); they stay running until the refusal goes away.
    std::vector<std::string> lost = impl_->Run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      std::vector<std::string> ids;
      for (const auto& r : tx.exec_prepared("reap_candidates", worker_timeout_ms, limit)) {
        ids.push_back(r[0].as<std::string>());
      }
      return ids;
    });
    if (lost.empty()) throw;
    std::vector<ReapedTask> reaped;
    for (const auto& id : lost) {
      try {
        for (auto& t : reap({id})) reaped.push_back(std::move(t));
      } catch (const PermanentError& e) {
        if (impl_->refused_reaps.insert(id).second) {
          spdlog::error("reaper: the database refuses to take back lost task {}; it stays running "
                        "until that is fixed: {}", id, e.what());
        }
      }
    }
    return reaped;
  }
}

RequestResult PostgresStore::Cancel(const std::string& id) {
  if (!IsUuid(id)) return {};
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto rows = tx.exec_prepared("cancel", id);
    tx.commit();
    if (rows.empty()) return RequestResult{};
    return RequestResult{true, rows[0][1].as<bool>(),
                         ParseTaskState(rows[0][0].as<std::string>()).value_or(TaskState::kQueued)};
  });
}

RequestResult PostgresStore::Replay(const std::string& id) {
  if (!IsUuid(id)) return {};
  std::vector<std::string> ids{id};
  int64_t replayed = impl_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto rows = tx.exec_prepared("replay", pg::ArrayLiteral(ids));
    tx.commit();
    return static_cast<int64_t>(rows.size());
  });
  auto task = GetTask(id);
  if (!task) return {};
  return {true, replayed > 0, task->state};
}

int64_t PostgresStore::ReplayDead(const std::string& type) {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    std::vector<std::string> ids;
    for (const auto& r : tx.exec_prepared("dead_ids", type)) ids.push_back(r[0].as<std::string>());
    auto rows = tx.exec_prepared("replay", pg::ArrayLiteral(ids));
    tx.commit();
    return static_cast<int64_t>(rows.size());
  });
}

std::optional<TaskView> PostgresStore::GetTask(const std::string& id) {
  if (!IsUuid(id)) return std::nullopt;
  return impl_->Run([&](pqxx::connection& c) -> std::optional<TaskView> {
    pqxx::nontransaction tx(c);
    auto rows = tx.exec_prepared("get_task", id);
    if (rows.empty()) return std::nullopt;
    TaskView view = ReadTask(rows[0]);
    for (const auto& r : tx.exec_prepared("get_attempts", id)) {
      view.attempts.push_back({r[0].as<uint32_t>(), r[1].as<std::string>(), r[2].as<std::string>(),
                               r[3].as<std::string>(), r[4].as<std::string>(),
                               pg::Int64OrZero(r[5]), pg::Int64OrZero(r[6]),
                               pg::Int64OrZero(r[7])});
    }
    for (const auto& r : tx.exec_prepared("task_depends_on", id)) {
      view.depends_on.push_back(r[0].as<std::string>());
    }
    return view;
  });
}

std::vector<TaskView> PostgresStore::ListTasks(const ListFilter& filter) {
  const pg::SqlQuery q = pg::ListTasksSql(filter);
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    std::vector<TaskView> views;
    for (const auto& r : tx.exec_params(q.sql, pqxx::prepare::make_dynamic_params(q.params))) {
      views.push_back(ReadTask(r));
    }
    return views;
  });
}

std::vector<QueueStateCount> PostgresStore::CountByQueueAndState() {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    std::vector<QueueStateCount> counts;
    for (const auto& r : tx.exec_prepared("count_by_queue_state")) {
      counts.push_back({r[0].as<std::string>(),
                        ParseTaskState(r[1].as<std::string>()).value_or(TaskState::kQueued),
                        r[2].as<int64_t>()});
    }
    return counts;
  });
}

int64_t PostgresStore::CountActive() {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return tx.exec_prepared1("count_active")[0].as<int64_t>();
  });
}

}  // namespace fila

namespace fila {

std::vector<QueueStatusView> PostgresStore::QueueStatuses(const std::string& tenant) {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    std::vector<QueueStatusView> out;
    auto find = [&](const std::string& queue) -> QueueStatusView& {
      for (auto& q : out) {
        if (q.queue == queue) return q;
      }
      out.push_back({queue, {}, 0, 0});
      return out.back();
    };
    for (const auto& r : tx.exec_prepared("queue_counts", tenant)) {
      find(r[0].as<std::string>())
          .counts.emplace_back(ParseTaskState(r[1].as<std::string>()).value_or(TaskState::kQueued),
                               r[2].as<int64_t>());
    }
    for (const auto& r : tx.exec_prepared("queue_oldest", tenant)) {
      find(r[0].as<std::string>()).oldest_queued_age_seconds = std::max(0.0, r[1].as<double>());
    }
    for (const auto& r : tx.exec_prepared("queue_mean_run", tenant)) {
      find(r[0].as<std::string>()).mean_run_seconds = r[1].as<double>();
    }
    // A tenant sees the pauses of its queues; operators every pause.
    for (const auto& r : tx.exec(kQueuePausesSql)) {
      const auto queue = r[0].as<std::string>();
      const bool listed = std::any_of(out.begin(), out.end(),
                                      [&](const QueueStatusView& q) { return q.queue == queue; });
      if (!tenant.empty() && !listed) continue;
      QueueStatusView& q = find(queue);
      q.paused = true;
      q.paused_by = r[1].as<std::string>();
      q.paused_at_ms = r[2].as<int64_t>();
    }
    std::sort(out.begin(), out.end(),
              [](const QueueStatusView& a, const QueueStatusView& b) { return a.queue < b.queue; });
    return out;
  });
}

bool PostgresStore::DeleteTerminal(const std::string& id) {
  if (!IsUuid(id)) return false;
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return !tx.exec_prepared("delete_terminal", id).empty();
  });
}

std::pair<TokenInfo, std::string> PostgresStore::CreateToken(const std::string& tenant,
                                                             const std::string& role) {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto r = tx.exec_prepared1("create_token", tenant, role);
    tx.commit();
    TokenInfo info{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                   pg::Int64OrZero(r[3]), 0};
    return std::make_pair(info, r[4].as<std::string>());
  });
}

std::optional<TokenInfo> PostgresStore::Authenticate(const std::string& token) {
  return impl_->Run([&](pqxx::connection& c) -> std::optional<TokenInfo> {
    pqxx::nontransaction tx(c);
    auto rows = tx.exec_prepared("authenticate", pg::ValidUtf8(token));
    if (rows.empty()) return std::nullopt;
    return TokenInfo{rows[0][0].as<std::string>(), rows[0][1].as<std::string>(),
                     rows[0][2].as<std::string>(), pg::Int64OrZero(rows[0][3]), 0};
  });
}

bool PostgresStore::RevokeToken(const std::string& id) {
  if (!IsUuid(id)) return false;
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return !tx.exec_prepared("revoke_token", id).empty();
  });
}

std::vector<TokenInfo> PostgresStore::ListTokens() {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    std::vector<TokenInfo> out;
    for (const auto& r : tx.exec_prepared("list_tokens")) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                     pg::Int64OrZero(r[3]), pg::Int64OrZero(r[4])});
    }
    return out;
  });
}

}  // namespace fila
