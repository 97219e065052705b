// The console's routes (docs/console-api.md): who am I, dead and failed
// tasks grouped by error, bulk jobs, the audit log, worker drains,
// schedule runs, statistics over time. Operators' actions are written to
// the audit log.
#include "console_routes.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "fila/codec/console.h"
#include "fila/codec/tasks.h"
#include "fila/codec/monitor.h"
#include "fila/codec/schedules.h"
#include "fila/core/errors.h"
#include "fila/core/task_request.h"
#include "fila/core/time_text.h"
#include "router.h"
#include "router_support.h"

namespace fila::api {
namespace {

constexpr uint32_t kMaxErrorGroups = 200;
constexpr uint32_t kMaxAuditPage = 500;
constexpr int64_t kMaxStatsBuckets = 2000;

// The console's answers with every field, zeros and empty lists included
// (protobuf's JSON mapping leaves them out by default): a progress of 0
// done is shown, not missing.
Response ReplyAll(const Request& r, int status, const google::protobuf::Message& message) {
  Format format = ResponseFormat(r);
  return {status, std::string(ContentType(format)), Encode(format, message, /*all_fields=*/true)};
}

}  // namespace

std::string Param(const Request& r, const char* name) {
  auto it = r.query.find(name);
  return it == r.query.end() ? std::string() : it->second;
}

uint32_t LimitParam(const Request& r, uint32_t fallback, uint32_t max) {
  const std::string text = Param(r, "limit");
  if (text.empty()) return fallback;
  try {
    size_t used = 0;
    long long n = std::stoll(text, &used);
    if (used != text.size() || n < 1 || n > max) throw std::out_of_range("limit");
    return static_cast<uint32_t>(n);
  } catch (const std::exception&) {
    throw ApiError{400, "invalid_argument", "limit must be between 1 and " + std::to_string(max), "limit"};
  }
}

v1::TaskFilter FilterFromQuery(const Request& r) {
  v1::TaskFilter m;
  m.set_state(Param(r, "state"));
  m.set_type(Param(r, "type"));
  m.set_queue(Param(r, "queue"));
  m.set_tenant(Param(r, "tenant"));
  if (std::string p = Param(r, "priority"); !p.empty()) {
    if (p.size() != 1 || p[0] < '0' || p[0] > '9') {
      throw ApiError{400, "invalid_argument", "priority must be 0 to 9", "priority"};
    }
    m.set_priority(static_cast<uint32_t>(p[0] - '0'));
  }
  m.set_created_after(Param(r, "created_after"));
  m.set_created_before(Param(r, "created_before"));
  m.set_where(Param(r, "where"));
  return m;
}

ListFilter ScopedFilter(v1::TaskFilter& m, const Caller& caller) {
  // A producer sees its own tenant whatever it names: another tenant's
  // tasks do not exist for it.
  if (!caller.operator_role) m.set_tenant(caller.tenant);
  return codec::ToListFilter(m);  // PermanentError (400) naming the field
}

AuditEntry AuditOf(const Caller& caller, std::string action, std::string target, int64_t count,
                   std::string filter) {
  AuditEntry e;
  e.who = "token " + caller.token_id;
  e.role = caller.operator_role ? "operator" : "producer";
  e.tenant = caller.tenant;
  e.action = std::move(action);
  e.target = std::move(target);
  e.filter = std::move(filter);
  e.count = count;
  return e;
}

Response Router::WhoAmI(const Request& r, const Caller& caller) {
  v1::WhoAmI out;
  out.set_role(caller.operator_role ? "operator" : "producer");
  out.set_tenant(caller.tenant);
  out.set_name("token " + caller.token_id);
  return ReplyAll(r, 200, out);
}

Response Router::TaskErrors(const Request& r, const Caller& caller) {
  v1::TaskFilter m = FilterFromQuery(r);
  ListFilter filter = ScopedFilter(m, caller);
  const uint32_t limit = LimitParam(r, 50, kMaxErrorGroups);
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  v1::ErrorGroupsResponse out;
  for (const auto& g : store->ErrorGroups(filter, limit)) *out.add_groups() = codec::ToProto(g);
  return ReplyAll(r, 200, out);
}

Response Router::Bulk(const Request& r, const Caller& caller) {
  if (r.method == "GET") {
    RequireOperator(caller);
    const uint32_t limit = LimitParam(r, 50, 500);
    auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
    v1::ListBulkJobsResponse out;
    for (const auto& j : store->ListBulkJobs(limit)) *out.add_jobs() = codec::ToProto(j);
    return ReplyAll(r, 200, out);
  }
  if (r.method != "POST") throw ApiError{405, "method_not_allowed", r.method + " is not allowed on " + r.path, ""};
  RequireOperator(caller);  // every tenant's tasks, in bulk
  v1::BulkRequest m;
  Decode(RequestFormat(r), r.body, m);
  auto action = ParseBulkAction(m.action());
  if (!action) {
    throw ApiError{400, "invalid_argument", "action must be retry, cancel or delete", "action"};
  }
  ListFilter filter = ScopedFilter(*m.mutable_filter(), caller);
  if (m.name().size() > 200) throw ApiError{400, "invalid_argument", "name is longer than 200 characters", "name"};
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  const int64_t count = store->CountTasks(filter);
  if (m.dry_run()) {
    v1::BulkCount out;
    out.set_count(static_cast<int32_t>(std::min<int64_t>(count, std::numeric_limits<int32_t>::max())));
    return ReplyAll(r, 200, out);
  }
  BulkJob job;
  job.name = m.name();
  job.action = *action;
  job.filter_json = codec::FilterJson(m.filter());
  job.total = count;
  job.created_by = "token " + caller.token_id;
  BulkJob created = store->CreateBulkJob(
      job, AuditOf(caller, "bulk." + std::string(ToString(*action)), "", count, job.filter_json));
  if (bulk_runner_) bulk_runner_->Wake();
  return ReplyAll(r, 202, codec::ToProto(created));
}

Response Router::BulkRoute(const Request& r, const Caller& caller, const std::string& id) {
  if (r.method != "GET") throw ApiError{405, "method_not_allowed", r.method + " is not allowed on " + r.path, ""};
  RequireOperator(caller);
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  auto job = store->GetBulkJob(id);
  if (!job) throw ApiError{404, "not_found", "no bulk job " + id, "id"};
  return ReplyAll(r, 200, codec::ToProto(*job));
}

Response Router::Audit(const Request& r, const Caller& caller) {
  if (r.method != "GET") throw ApiError{405, "method_not_allowed", r.method + " is not allowed on " + r.path, ""};
  RequireOperator(caller);
  const uint32_t limit = LimitParam(r, 50, kMaxAuditPage);
  int64_t before = 0;
  if (std::string cursor = Param(r, "cursor"); !cursor.empty()) {
    try {
      size_t used = 0;
      before = std::stoll(cursor, &used);
      if (used != cursor.size() || before < 1) throw std::invalid_argument("cursor");
    } catch (const std::exception&) {
      throw ApiError{400, "invalid_argument", "malformed cursor", "cursor"};
    }
  }
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  auto entries = store->ListAudit(limit + 1, before);
  v1::ListAuditResponse out;
  for (size_t i = 0; i < entries.size() && i < limit; ++i) *out.add_entries() = codec::ToProto(entries[i]);
  if (entries.size() > limit) out.set_next_cursor(std::to_string(entries[limit - 1].id));
  return ReplyAll(r, 200, out);
}

Response Router::WorkerRoute(const Request& r, const Caller& caller, const std::string& rest) {
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || rest.substr(colon + 1) != "drain" || rest.find('/') != std::string::npos) {
    throw ApiError{404, "not_found", "no such resource: " + r.path + " (POST :drain)", ""};
  }
  if (r.method != "POST") throw ApiError{405, "method_not_allowed", r.method + " is not allowed on " + r.path, ""};
  RequireOperator(caller);
  const std::string id = rest.substr(0, colon);
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  if (id.empty() || id.size() > 256 || !store->DrainWorker(id)) {
    throw ApiError{404, "not_found", "no worker " + id.substr(0, 256), "id"};
  }
  store->AppendAudit(AuditOf(caller, "worker.drain", id, 0, ""));
  for (const auto& w : store->Monitor(kWorkerStaleAfterMs).workers) {
    if (w.id != id) continue;
    MonitorSnapshot one;
    one.workers.push_back(w);
    return ReplyAll(r, 200, codec::ToProto(one).workers(0));
  }
  v1::WorkerStatus out;  // it deregistered meanwhile
  out.set_id(id);
  out.set_draining(true);
  return ReplyAll(r, 200, out);
}

Response Router::RunSchedule(const Request& r, const Caller& caller, const std::string& name) {
  RequireOperator(caller);
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  // The operator's own tenant's schedule (as with pause and resume), or
  // that of ?tenant=.
  const std::string tenant = Param(r, "tenant").empty() ? caller.tenant : Param(r, "tenant");
  auto schedule = store->GetSchedule(tenant, name);
  if (!schedule) throw ApiError{404, "not_found", "no schedule " + name, "name"};
  const ScheduleSpec& s = schedule->spec;
  NewTask task;
  task.type = s.type;
  task.queue = s.queue;
  task.priority = s.priority;
  task.max_attempts = s.max_attempts;
  task.timeout_ms = s.timeout_ms;
  task.tenant = s.tenant;
  task.payload = s.payload;
  if (std::string json = types_.PayloadToJson(s.type, s.payload); json.starts_with("{")) task.args_json = json;
  std::vector<NewTask> one{task};
  auto result = store->Enqueue(one);
  metrics_.Enqueued(task.queue, task.type, 1);
  store->AppendAudit(AuditOf(caller, "schedule.run", tenant + "/" + name, 1, ""));
  return ReplyAll(r, 201, codec::EnqueuedTask(result.at(0), task));
}

Response Router::Stats(const Request& r, const Caller& caller) {
  if (r.method != "GET") throw ApiError{405, "method_not_allowed", r.method + " is not allowed on " + r.path, ""};
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  int64_t since_ms = now_ms - 3600 * 1000;
  if (std::string since = Param(r, "since"); !since.empty()) {
    try {
      since_ms = since.find('T') != std::string::npos ? ParseTimestamp(since, "since")
                                                     : now_ms - ParseDuration(since, "since");
    } catch (const PermanentError& e) {
      throw ApiError{400, "invalid_argument",
                     "since must be an RFC 3339 time or a duration like 1h: " + std::string(e.what()), "since"};
    }
  }
  uint32_t bucket_s = 60;
  if (std::string bucket = Param(r, "bucket"); !bucket.empty()) {
    try {
      size_t used = 0;
      long long n = std::stoll(bucket, &used);
      if (used != bucket.size() || n < 1 || n > 86400) throw std::out_of_range("bucket");
      bucket_s = static_cast<uint32_t>(n);
    } catch (const std::exception&) {
      throw ApiError{400, "invalid_argument", "bucket must be 1 to 86400 seconds", "bucket"};
    }
  }
  if ((now_ms - since_ms) / (bucket_s * 1000LL) > kMaxStatsBuckets) {
    throw ApiError{400, "invalid_argument",
                   "at most " + std::to_string(kMaxStatsBuckets) + " buckets: widen bucket or shorten since",
                   "bucket"};
  }
  const std::string tenant = caller.operator_role ? "" : caller.tenant;
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  v1::StatsResponse out;
  for (const auto& p : store->Stats(since_ms, bucket_s, tenant)) *out.add_series() = codec::ToProto(p);
  for (const auto& b : store->Backlogs(tenant)) *out.add_queues() = codec::ToProto(b);
  return ReplyAll(r, 200, out);
}

}  // namespace fila::api
