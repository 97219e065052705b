#include "fila/store_postgres/console_sql.h"

#include "store_impl.h"
#include "task_filter_sql.h"

namespace fila::pg {
namespace {

std::string Ms(const std::string& column) {
  return "coalesce((extract(epoch FROM " + column + ") * 1000)::bigint, 0)";
}

// Dead and failed tasks group by the first 256 characters of their error:
// the expression of the index tasks_ended_error (migration 0018), which
// holds it whole (a whole error may be too long for a btree entry).
const std::string kErrorKey = "left(coalesce(t.last_error, ''), 256)";

}  // namespace

SqlQuery ListTasksSql(const ListFilter& filter) {
  // Built per filter: each combination gets its own plan, on the index
  // that serves it (tasks_state_created, tasks_tenant_created, tasks_args, ...).
  FilterSql f = BuildFilter(filter);
  std::string sql = "SELECT " + TaskColumns() + " FROM tasks t WHERE " + f.where +
                    " ORDER BY t.created_at DESC, t.id DESC LIMIT " + f.Add(std::to_string(filter.limit)) + "::int";
  return {"tasks.list", std::move(sql), std::move(f.params)};
}

SqlQuery CountTasksSql(const ListFilter& filter) {
  FilterSql f = BuildFilter(filter);
  return {"tasks.count", "SELECT count(*) FROM tasks t WHERE " + f.where, std::move(f.params)};
}

SqlQuery ErrorGroupsSql(const ListFilter& filter, uint32_t limit) {
  FilterSql f = BuildFilter(filter, {TaskState::kFailed, TaskState::kDead});
  // The sample is the group's latest task, found through the same index.
  std::string sql =
      "WITH g AS (SELECT " + kErrorKey + " AS error, count(*) AS n, max(t.finished_at) AS last_at"
      " FROM tasks t WHERE " + f.where + " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT " +
      f.Add(std::to_string(limit)) + "::int)"
      " SELECT g.error, g.n, coalesce(s.id::text, ''), " + Ms("g.last_at") +
      " FROM g LEFT JOIN LATERAL (SELECT t.id FROM tasks t WHERE " + f.where + " AND " + kErrorKey +
      " = g.error ORDER BY t.finished_at DESC LIMIT 1) s ON true ORDER BY g.n DESC, g.error";
  return {"tasks.errors", std::move(sql), std::move(f.params)};
}

SqlQuery StatsSql(int64_t since_ms, uint32_t bucket_s, const std::string& tenant) {
  const std::string wait = "greatest(extract(epoch FROM t.started_at - t.run_at), 0) * 1000";
  const std::string run = "greatest(extract(epoch FROM t.finished_at - t.started_at), 0) * 1000";
  auto pct = [](const std::string& p, const std::string& expr) {
    return "coalesce(percentile_cont(" + p + ") WITHIN GROUP (ORDER BY " + expr +
           ") FILTER (WHERE t.started_at IS NOT NULL), 0)::float8";
  };
  FilterSql f;
  const std::string since = f.Add(std::to_string(since_ms));
  const std::string bucket = f.Add(std::to_string(bucket_s));
  std::string where = "t.finished_at IS NOT NULL AND t.finished_at >= timestamptz 'epoch' + " + since +
                      "::bigint * interval '1 millisecond'";
  if (!tenant.empty()) where += " AND t.tenant = " + f.Add(ValidUtf8(tenant));
  std::string sql = "SELECT t.queue, t.type, (floor(extract(epoch FROM t.finished_at) / " + bucket +
                    "::int) * " + bucket + "::int * 1000)::bigint AS b, count(*),"
                    " count(*) FILTER (WHERE t.state IN ('failed', 'dead')), " +
                    pct("0.5", wait) + ", " + pct("0.95", wait) + ", " + pct("0.5", run) + ", " + pct("0.95", run) +
                    " FROM tasks t WHERE " + where + " GROUP BY 1, 2, 3 ORDER BY 3, 1, 2";
  return {"stats.series", std::move(sql), std::move(f.params)};
}

SqlQuery BacklogsSql(const std::string& tenant) {
  FilterSql f;
  std::string where = "t.state IN ('queued', 'scheduled', 'running', 'blocked')";
  if (!tenant.empty()) where += " AND t.tenant = " + f.Add(ValidUtf8(tenant));
  return {"stats.backlogs",
          "SELECT t.queue, count(*) FILTER (WHERE t.state <> 'running'),"
          " coalesce(greatest(extract(epoch FROM now() - min(t.run_at) FILTER (WHERE t.state = 'queued')), 0),"
          " 0)::float8 FROM tasks t WHERE " + where + " GROUP BY t.queue ORDER BY t.queue",
          std::move(f.params)};
}

std::vector<SqlQuery> QueueViewSql(const std::string& tenant) {
  std::vector<SqlQuery> out;
  for (const char* name : {"queue_counts", "queue_oldest", "queue_mean_run"}) {
    out.push_back({std::string("queues.") + name, Statements().at(name), {ValidUtf8(tenant)}});
  }
  FilterSql f;
  std::string tenant_cond;
  if (!tenant.empty()) tenant_cond = " AND t.tenant = " + f.Add(ValidUtf8(tenant));
  out.push_back({"queues.by_priority",
                 "SELECT t.queue, t.priority, count(*) FROM tasks t"
                 " WHERE t.state IN ('queued', 'scheduled', 'running', 'blocked')" + tenant_cond + " GROUP BY 1, 2",
                 f.params});
  out.push_back({"queues.rate",
                 "SELECT t.queue, count(*) FROM tasks t WHERE t.finished_at IS NOT NULL"
                 " AND t.finished_at > now() - interval '1 minute'" + tenant_cond + " GROUP BY 1",
                 f.params});
  return out;
}

SqlQuery RunningTasksSql() {
  return {"workers.running", RunningTasksStatement(), {}};
}

}  // namespace fila::pg
