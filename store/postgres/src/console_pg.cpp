// The console's reads and bulk jobs (ConsoleStore, console_store.h). Every
// input reaches the SQL as a parameter; filters go through BuildFilter.
#include <algorithm>
#include <map>

#include "fila/core/errors.h"
#include "fila/core/uuid.h"
#include "pg_support.h"
#include "store_impl.h"
#include "fila/store_postgres/console_sql.h"
#include "task_filter_sql.h"

namespace fila {
namespace {

std::string Ms(const std::string& column) {
  return "coalesce((extract(epoch FROM " + column + ") * 1000)::bigint, 0)";
}

const std::string kBulkColumns = "id::text, name, action, filter, state, total, done, skipped, failed, error, "
                                 "created_by, " + Ms("created_at") + ", " + Ms("finished_at");

BulkJob ReadBulk(const pqxx::row& r) {
  BulkJob j;
  j.id = r[0].as<std::string>();
  j.name = r[1].as<std::string>();
  j.action = ParseBulkAction(r[2].as<std::string>()).value_or(BulkAction::kRetry);
  j.filter_json = r[3].as<std::string>();
  j.state = r[4].as<std::string>();
  j.total = r[5].as<int64_t>();
  j.done = r[6].as<int64_t>();
  j.skipped = r[7].as<int64_t>();
  j.failed = r[8].as<int64_t>();
  j.error = r[9].as<std::string>();
  j.created_by = r[10].as<std::string>();
  j.created_at_ms = r[11].as<int64_t>();
  j.finished_at_ms = r[12].as<int64_t>();
  return j;
}

void InsertAudit(pqxx::transaction_base& tx, const AuditEntry& e) {
  tx.exec_params(
      "INSERT INTO audit_log (who, role, tenant, action, target, filter, count)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7)",
      pg::StoredText(e.who), e.role, pg::StoredText(e.tenant), e.action, pg::StoredText(e.target),
      pg::StoredText(e.filter), e.count);
}

// The action on `ids` (one batch), guarded as the single-task calls are:
// how many it changed.
int64_t ApplyAction(pqxx::transaction_base& tx, BulkAction action, const std::string& ids) {
  switch (action) {
    case BulkAction::kRetry:
      return static_cast<int64_t>(tx.exec_prepared("replay", ids).size());
    case BulkAction::kCancel:
      return tx.exec_params1(R"(
WITH now_cancelled AS (
  UPDATE tasks SET state = 'cancelled', finished_at = now(), updated_at = now()
  WHERE id = ANY($1::uuid[]) AND state IN ('queued', 'scheduled', 'blocked')
  RETURNING id
), flagged AS (
  UPDATE tasks SET cancel_requested = true, updated_at = now()
  WHERE id = ANY($1::uuid[]) AND state = 'running' AND NOT cancel_requested
  RETURNING id
)
SELECT (SELECT count(*) FROM now_cancelled) + (SELECT count(*) FROM flagged))",
                             ids)[0]
          .as<int64_t>();
    case BulkAction::kDelete:
      return static_cast<int64_t>(
          tx.exec_params("DELETE FROM tasks WHERE id = ANY($1::uuid[])"
                         " AND state IN ('succeeded', 'failed', 'dead', 'cancelled') RETURNING id",
                         ids)
              .size());
  }
  return 0;
}

}  // namespace

int64_t PostgresStore::CountTasks(const ListFilter& filter) {
  const pg::SqlQuery q = pg::CountTasksSql(filter);
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return tx.exec_params1(q.sql, pqxx::prepare::make_dynamic_params(q.params))[0].as<int64_t>();
  });
}

std::vector<ErrorGroup> PostgresStore::ErrorGroups(const ListFilter& filter, uint32_t limit) {
  const pg::SqlQuery q = pg::ErrorGroupsSql(filter, limit);
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    std::vector<ErrorGroup> out;
    for (const auto& r : tx.exec_params(q.sql, pqxx::prepare::make_dynamic_params(q.params))) {
      out.push_back({r[0].as<std::string>(), r[1].as<int64_t>(), r[2].as<std::string>(), r[3].as<int64_t>()});
    }
    return out;
  });
}

BulkJob PostgresStore::CreateBulkJob(const BulkJob& job, const AuditEntry& audit) {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto r = tx.exec_params1("INSERT INTO bulk_jobs (name, action, filter, total, created_by)"
                             " VALUES ($1, $2, $3, $4, $5) RETURNING " + kBulkColumns,
                             pg::StoredText(job.name), std::string(ToString(job.action)),
                             pg::ValidUtf8(job.filter_json), job.total, pg::StoredText(job.created_by));
    BulkJob created = ReadBulk(r);
    AuditEntry entry = audit;
    entry.target = created.id;
    InsertAudit(tx, entry);
    tx.commit();
    return created;
  });
}

std::optional<BulkJob> PostgresStore::GetBulkJob(const std::string& id) {
  if (!IsUuid(id)) return std::nullopt;
  return impl_->Run([&](pqxx::connection& c) -> std::optional<BulkJob> {
    pqxx::nontransaction tx(c);
    auto rows = tx.exec_params("SELECT " + kBulkColumns + " FROM bulk_jobs WHERE id = $1::uuid", id);
    if (rows.empty()) return std::nullopt;
    return ReadBulk(rows[0]);
  });
}

std::vector<BulkJob> PostgresStore::ListBulkJobs(uint32_t limit) {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    std::vector<BulkJob> out;
    for (const auto& r : tx.exec_params("SELECT " + kBulkColumns +
                                            " FROM bulk_jobs ORDER BY created_at DESC, id DESC LIMIT $1",
                                        limit)) {
      out.push_back(ReadBulk(r));
    }
    return out;
  });
}

std::optional<BulkJob> PostgresStore::LeaseBulkJob(uint32_t lease_ms) {
  return impl_->Run([&](pqxx::connection& c) -> std::optional<BulkJob> {
    pqxx::work tx(c);
    auto rows = tx.exec_params(
        "UPDATE bulk_jobs SET lease_until = now() + $1 * interval '1 millisecond'"
        " WHERE id = (SELECT id FROM bulk_jobs WHERE state = 'running'"
        "   AND (lease_until IS NULL OR lease_until < now())"
        "   ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
        " RETURNING " + kBulkColumns,
        lease_ms);
    tx.commit();
    if (rows.empty()) return std::nullopt;
    return ReadBulk(rows[0]);
  });
}

BulkJob PostgresStore::BulkStep(const std::string& id, const ListFilter& filter, uint32_t batch,
                                uint32_t lease_ms) {
  if (!IsUuid(id)) throw PermanentError("no bulk job " + id, "id");
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    // The job's row lock: two runners never apply one job's batches at once.
    auto job = tx.exec_params("SELECT action, coalesce(cursor_id::text, ''), state FROM bulk_jobs"
                              " WHERE id = $1::uuid FOR UPDATE",
                              id);
    if (job.empty()) throw PermanentError("no bulk job " + id, "id");
    if (job[0][2].as<std::string>() != "running") {
      BulkJob unchanged =
          ReadBulk(tx.exec_params1("SELECT " + kBulkColumns + " FROM bulk_jobs WHERE id = $1::uuid", id));
      tx.commit();
      return unchanged;
    }
    const BulkAction action = ParseBulkAction(job[0][0].as<std::string>()).value_or(BulkAction::kRetry);
    const std::string cursor = job[0][1].as<std::string>();
    ListFilter f = filter;
    f.before_created_at_us = 0;  // a bulk job goes by id, not by the list's keyset
    pg::FilterSql sql = pg::BuildFilter(f);
    std::string query = "SELECT t.id::text FROM tasks t WHERE " + sql.where;
    if (!cursor.empty()) query += " AND t.id > " + sql.Add(cursor) + "::uuid";
    query += " ORDER BY t.id LIMIT " + sql.Add(std::to_string(batch)) + "::int";
    std::vector<std::string> ids;
    for (const auto& r : tx.exec_params(query, pqxx::prepare::make_dynamic_params(sql.params))) {
      ids.push_back(r[0].as<std::string>());
    }
    const int64_t changed = ids.empty() ? 0 : ApplyAction(tx, action, pg::ArrayLiteral(ids));
    const bool last = ids.size() < batch;
    auto r = tx.exec_params1(
        "UPDATE bulk_jobs SET done = done + $2, skipped = skipped + $3,"
        " cursor_id = coalesce(NULLIF($4, '')::uuid, cursor_id),"
        " lease_until = now() + $5 * interval '1 millisecond',"
        " state = CASE WHEN $6 THEN 'done' ELSE state END,"
        " finished_at = CASE WHEN $6 THEN now() END"
        " WHERE id = $1::uuid RETURNING " + kBulkColumns,
        id, changed, static_cast<int64_t>(ids.size()) - changed, ids.empty() ? std::string() : ids.back(),
        lease_ms, last);
    tx.commit();
    return ReadBulk(r);
  });
}

void PostgresStore::FailBulkJob(const std::string& id, const std::string& error) {
  if (!IsUuid(id)) return;
  impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    tx.exec_params("UPDATE bulk_jobs SET state = 'failed', error = $2, finished_at = now()"
                   " WHERE id = $1::uuid AND state = 'running'",
                   id, pg::StoredText(error));
    return 0;
  });
}

void PostgresStore::AppendAudit(const AuditEntry& entry) {
  impl_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    InsertAudit(tx, entry);
    tx.commit();
    return 0;
  });
}

std::vector<AuditEntry> PostgresStore::ListAudit(uint32_t limit, int64_t before_id) {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    std::vector<AuditEntry> out;
    for (const auto& r : tx.exec_params("SELECT id, " + Ms("at") +
                                            ", who, role, tenant, action, target, filter, count FROM audit_log"
                                            " WHERE ($2::bigint = 0 OR id < $2::bigint) ORDER BY id DESC LIMIT $1",
                                        limit, before_id)) {
      out.push_back({r[0].as<int64_t>(), r[1].as<int64_t>(), r[2].as<std::string>(), r[3].as<std::string>(),
                     r[4].as<std::string>(), r[5].as<std::string>(), r[6].as<std::string>(),
                     r[7].as<std::string>(), r[8].as<int64_t>()});
    }
    return out;
  });
}

bool PostgresStore::DrainWorker(const std::string& worker_id) {
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return !tx.exec_params("UPDATE workers SET draining = true WHERE id = $1 RETURNING id",
                           pg::ValidUtf8(worker_id))
                .empty();
  });
}

std::vector<StatsPoint> PostgresStore::Stats(int64_t since_ms, uint32_t bucket_s, const std::string& tenant) {
  const pg::SqlQuery q = pg::StatsSql(since_ms, bucket_s, tenant);
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    std::vector<StatsPoint> out;
    for (const auto& r : tx.exec_params(q.sql, pqxx::prepare::make_dynamic_params(q.params))) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<int64_t>(), r[3].as<int64_t>(),
                     r[4].as<int64_t>(), r[5].as<double>(), r[6].as<double>(), r[7].as<double>(),
                     r[8].as<double>()});
    }
    return out;
  });
}

std::vector<QueueBacklog> PostgresStore::Backlogs(const std::string& tenant) {
  const pg::SqlQuery q = pg::BacklogsSql(tenant);
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    std::vector<QueueBacklog> out;
    for (const auto& r : tx.exec_params(q.sql, pqxx::prepare::make_dynamic_params(q.params))) {
      out.push_back({r[0].as<std::string>(), r[1].as<int64_t>(), r[2].as<double>()});
    }
    return out;
  });
}

std::vector<QueueDetail> PostgresStore::QueueDetails(const std::string& tenant, uint32_t stale_after_ms) {
  const auto queries = pg::QueueViewSql(tenant);  // [3]: by priority, [4]: rate
  return impl_->Run([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    std::map<std::string, QueueDetail> by_queue;
    for (const auto& r : tx.exec_params(queries[3].sql, pqxx::prepare::make_dynamic_params(queries[3].params))) {
      by_queue[r[0].as<std::string>()].by_priority[r[1].as<uint32_t>()] = r[2].as<int64_t>();
    }
    for (const auto& r : tx.exec_params(queries[4].sql, pqxx::prepare::make_dynamic_params(queries[4].params))) {
      by_queue[r[0].as<std::string>()].rate = r[1].as<double>() / 60.0;
    }
    for (const auto& r : tx.exec_params(
             "SELECT q, count(*) FROM workers, unnest(queues) AS q"
             " WHERE NOT draining AND heartbeat_at > now() - $1 * interval '1 millisecond' GROUP BY q",
             stale_after_ms)) {
      // Workers serve every tenant: a producer sees consumers of its queues only.
      const auto queue = r[0].as<std::string>();
      if (!tenant.empty() && !by_queue.contains(queue)) continue;
      by_queue[queue].consumers = r[1].as<int64_t>();
    }
    std::vector<QueueDetail> out;
    for (auto& [queue, d] : by_queue) {
      d.queue = queue;
      out.push_back(std::move(d));
    }
    return out;
  });
}

}  // namespace fila
