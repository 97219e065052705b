#pragma once

// The SQL of the console's views on `tasks`, as the PostgresStore runs it:
// public so that the scale test (tests/integration/console_scale_test.cpp)
// EXPLAINs exactly these statements on a million tasks. Every value is a
// numbered text parameter; nothing of the input is in the SQL text.

#include <cstdint>
#include <string>
#include <vector>

#include "fila/core/store_types.h"

namespace fila::pg {

struct SqlQuery {
  std::string name;  // for reports: "tasks.list", ...
  std::string sql;
  std::vector<std::string> params;  // $1.. as text
};

SqlQuery ListTasksSql(const ListFilter& filter);
SqlQuery CountTasksSql(const ListFilter& filter);
SqlQuery ErrorGroupsSql(const ListFilter& filter, uint32_t limit);
SqlQuery StatsSql(int64_t since_ms, uint32_t bucket_s, const std::string& tenant);
SqlQuery BacklogsSql(const std::string& tenant);
// GET /v1/queues: counts by state, oldest queued, mean run time (the
// statements QueueStatuses prepares), by priority and rate (QueueDetails).
std::vector<SqlQuery> QueueViewSql(const std::string& tenant);
// GET /v1/workers: the running tasks of every worker (Monitor).
SqlQuery RunningTasksSql();

}  // namespace fila::pg
