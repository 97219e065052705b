#include "router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <span>

#include "fila/codec/enqueue.h"
#include "fila/codec/monitor.h"
#include "fila/codec/tasks.h"
#include "fila/core/errors.h"
#include "fila/core/extension.h"
#include "fila/core/task_request.h"
#include "fila/core/text_limit.h"
#include "fila/core/uuid.h"
#include "console_routes.h"
#include "router_support.h"

namespace fila::api {

Format ResponseFormat(const Request& r) {
  auto from_accept = FormatOf(r.accept);
  if (!r.accept.empty() && r.accept != "*/*" && from_accept) return *from_accept;
  if (auto from_body = FormatOf(r.content_type); from_body && !r.body.empty()) return *from_body;
  return from_accept.value_or(Format::kJson);
}

Response Reply(const Request& r, int status, const google::protobuf::Message& message) {
  Format format = ResponseFormat(r);
  return {status, std::string(ContentType(format)), Encode(format, message)};
}

Response ErrorReply(const Request& r, const ApiError& e) {
  v1::ErrorResponse body;
  body.set_code(e.code);
  body.set_message(e.message);
  body.set_field(e.field);
  Format format = ResponseFormat(r);
  Response out{e.status, std::string(ContentType(format)), Encode(format, body, /*all_fields=*/true)};
  out.retry_after_s = e.retry_after_s;
  return out;
}

Response CurrentError(const Request& r) {
  try {
    throw;
  } catch (const ApiError& e) {
    return ErrorReply(r, e);
  } catch (const PermissionDenied& e) {
    return ErrorReply(r, {403, "permission_denied", e.what(), e.field()});
  } catch (const QuotaExceeded& e) {
    return ErrorReply(r, {429, "resource_exhausted", e.what(), "", e.RetryAfterSeconds()});
  } catch (const PayloadTooLarge& e) {
    return ErrorReply(r, {413, "payload_too_large", e.what(), e.field()});
  } catch (const PermanentError& e) {
    return ErrorReply(r, {400, "invalid_argument", e.what(), e.field()});
  } catch (const TransientError& e) {
    spdlog::warn("api: {} {}: {}", r.method, TruncateText(r.path, 256), e.what());
    return ErrorReply(r, {503, "unavailable", "the database is unavailable; retry later", "", 1});
  } catch (const std::exception& e) {
    spdlog::error("api: {} {} failed: {}", r.method, TruncateText(r.path, 256), e.what());
    return ErrorReply(r, {500, "internal", "internal error", ""});
  } catch (...) {
    spdlog::error("api: {} {} failed", r.method, TruncateText(r.path, 256));
    return ErrorReply(r, {500, "internal", "internal error", ""});
  }
}

void RequireOperator(const Caller& caller) {
  if (!caller.operator_role) {
    throw ApiError{403, "permission_denied", "this call needs an operator token", ""};
  }
}

Format RequestFormat(const Request& r) {
  auto format = FormatOf(r.content_type);
  if (!format) {
    throw ApiError{415, "unsupported_media_type",
                   "Content-Type must be application/json or application/x-protobuf, got '" +
                       r.content_type + "'",
                   ""};
  }
  return *format;
}

namespace {

constexpr uint32_t kMaxPageSize = 1000;

// Producers enqueue for their own tenant only; operators may name one.
TaskRequest RequestFor(const v1::EnqueueRequest& m, const Caller& caller) {
  return codec::ToTaskRequest(m, caller.operator_role && !m.tenant().empty() ? m.tenant() : caller.tenant);
}

// Which worker ran a task is the operators' business: worker ids name
// hosts and processes of the network behind the API.
v1::Task ForCaller(v1::Task task, const Caller& caller) {
  task.set_limit_key(ProducerLimitKey(task.tenant(), task.limit_key()));
  if (caller.operator_role) return task;
  task.clear_worker();
  for (auto& attempt : *task.mutable_attempts()) attempt.clear_worker();
  return task;
}

// Cursor of a page: "<created_at in µs>_<id>" of its last task.
std::string CursorOf(const TaskView& t) { return std::to_string(t.created_at_us) + "_" + t.id; }

void ParseCursor(const std::string& cursor, ListFilter& filter) {
  auto sep = cursor.find('_');
  try {
    if (sep == std::string::npos) throw std::invalid_argument("no separator");
    filter.before_created_at_us = std::stoll(cursor.substr(0, sep));
    filter.before_id = cursor.substr(sep + 1);
  } catch (const std::exception&) {
    throw ApiError{400, "invalid_argument", "malformed cursor", "cursor"};
  }
  if (filter.before_created_at_us <= 0 || !IsUuid(filter.before_id)) {
    throw ApiError{400, "invalid_argument", "malformed cursor", "cursor"};
  }
}

// The task `id` as `caller` may see it: another tenant's task does not
// exist, as far as a producer can tell (404, not 403).
TaskView VisibleTask(TaskAdminStore& store, const Caller& caller, const std::string& id) {
  auto task = store.GetTask(id);
  if (!task || (!caller.operator_role && task->tenant != caller.tenant)) {
    throw ApiError{404, "not_found", "no task " + id, "id"};
  }
  return std::move(*task);
}

}  // namespace

Router::Router(const ApiOptions& options, StorePool& stores, const TaskTypes& types, TypeStore& type_store,
               TenantGate& tenants, SchedulerMetrics& metrics, std::string database_url)
    : options_(options),
      database_url_(std::move(database_url)),
      stores_(stores),
      types_(types),
      type_store_(type_store),
      tenants_(tenants),
      metrics_(metrics),
      // Unknown tokens may hold at most half the API's connections.
      authenticator_(stores, options.token_cache_ttl, options.database_connections / 2),
      combiner_(stores,
                {.max_group = options.backpressure.max_group,
                 .max_queued = options.backpressure.max_queued,
                 .committers = options.backpressure.committers},
                metrics),
      backpressure_(options_.backpressure, combiner_, metrics) {}

Response Router::Handle(const Request& request, const Caller& caller) {
  try {
    return Dispatch(request, caller);
  } catch (...) {
    return CurrentError(request);
  }
}

Response Router::AuthorizeWatch(const Request& request, const Caller& caller, const std::string& id) {
  try {
    auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
    VisibleTask(*store, caller, id);
    return {200, "text/event-stream", ""};
  } catch (...) {
    return CurrentError(request);
  }
}

std::string RouteOf(const std::string& path) {
  if (path == "/ui" || path.rfind("/ui/", 0) == 0) return "/ui";  // the console's files
  if (FindExtensionRoute(path) != nullptr) return path;  // a fixed set: a bounded label
  if (path == "/v1/tasks" || path == "/v1/tasks:batch" || path == "/v1/queues" ||
      path == "/v1/workers" || path == "/v1/schedules" || path == "/v1/tenants" || path == "/v1/types" ||
      path == "/v1/tasks:errors" || path == "/v1/whoami" || path == "/v1/bulk" || path == "/v1/audit" ||
      path == "/v1/stats") {
    return path;
  }
  if (path.rfind("/v1/bulk/", 0) == 0) {
    return path.find_first_of("/:", 9) == std::string::npos ? "/v1/bulk/{id}" : "other";
  }
  if (path.rfind("/v1/workers/", 0) == 0) {
    return path.find('/', 12) == std::string::npos && path.ends_with(":drain") ? "/v1/workers/{id}:drain"
                                                                              : "other";
  }
  if (path.rfind("/v1/types/", 0) == 0) {
    return path.find_first_of("/:", 10) == std::string::npos ? "/v1/types/{name}" : "other";
  }
  if (path.rfind("/v1/queues/", 0) == 0) {
    if (path.find('/', 11) != std::string::npos) return "other";
    if (path.ends_with(":pause")) return "/v1/queues/{queue}:pause";
    if (path.ends_with(":resume")) return "/v1/queues/{queue}:resume";
    return "other";
  }
  if (path.rfind("/v1/tenants/", 0) == 0) {
    if (path.find('/', 12) != std::string::npos) return "other";
    if (path.ends_with(":bind")) return "/v1/tenants/{name}:bind";
    if (path.ends_with(":unbind")) return "/v1/tenants/{name}:unbind";
    return "/v1/tenants/{name}";
  }
  if (path.rfind("/v1/schedules/", 0) == 0) {
    if (path.find('/', 14) != std::string::npos) return "other";
    if (path.ends_with(":pause")) return "/v1/schedules/{name}:pause";
    if (path.ends_with(":resume")) return "/v1/schedules/{name}:resume";
    if (path.ends_with(":run")) return "/v1/schedules/{name}:run";
    return "/v1/schedules/{name}";
  }
  const std::string kTasks = "/v1/tasks/";
  if (path.rfind(kTasks, 0) != 0 || path.size() == kTasks.size()) return "other";
  const std::string rest = path.substr(kTasks.size());
  if (rest.ends_with("/events")) return "/v1/tasks/{id}/events";
  if (rest.ends_with("/tree") && rest.find('/') == rest.size() - 5) return "/v1/tasks/{id}/tree";
  if (rest.find('/') != std::string::npos) return "other";
  if (rest.ends_with(":cancel")) return "/v1/tasks/{id}:cancel";
  if (rest.ends_with(":retry")) return "/v1/tasks/{id}:retry";
  if (rest.find(':') != std::string::npos) return "other";
  return "/v1/tasks/{id}";
}

std::string MethodLabel(const std::string& method) {
  for (const char* known : {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}) {
    if (method == known) return method;
  }
  return "other";
}

Response Router::Dispatch(const Request& r, const Caller& caller) {
  const std::string& path = r.path;
  auto method_not_allowed = [&]() -> Response {
    throw ApiError{405, "method_not_allowed", r.method + " is not allowed on " + path, ""};
  };
  if (const ApiRoute* route = FindExtensionRoute(path)) {
    if (r.method != "GET") return method_not_allowed();
    return {200, "application/json",
            route->get({.database_url = database_url_,
                        .tenant = caller.operator_role ? std::string() : caller.tenant,
                        .query = r.query})};
  }
  if (path == "/v1/tasks") {
    if (r.method == "POST") return Enqueue(r, caller);
    if (r.method == "GET") return ListTasks(r, caller);
    return method_not_allowed();
  }
  if (path == "/v1/tasks:batch") {
    return r.method == "POST" ? EnqueueBatch(r, caller) : method_not_allowed();
  }
  if (path == "/v1/tasks:errors") return r.method == "GET" ? TaskErrors(r, caller) : method_not_allowed();
  if (path == "/v1/whoami") return r.method == "GET" ? WhoAmI(r, caller) : method_not_allowed();
  if (path == "/v1/bulk") return Bulk(r, caller);
  if (path.rfind("/v1/bulk/", 0) == 0 && path.size() > 9) return BulkRoute(r, caller, path.substr(9));
  if (path == "/v1/audit") return Audit(r, caller);
  if (path == "/v1/stats") return Stats(r, caller);
  if (path.rfind("/v1/workers/", 0) == 0 && path.size() > 12) return WorkerRoute(r, caller, path.substr(12));
  if (path == "/v1/queues") return r.method == "GET" ? Queues(r, caller) : method_not_allowed();
  if (path.rfind("/v1/queues/", 0) == 0 && path.size() > 11) return QueueRoute(r, caller, path.substr(11));
  if (path == "/v1/workers") return r.method == "GET" ? Workers(r, caller) : method_not_allowed();
  if (path == "/v1/schedules") {
    if (r.method == "POST") return AddSchedule(r, caller);
    if (r.method == "GET") return ListSchedules(r, caller);
    return method_not_allowed();
  }
  if (path == "/v1/tenants") return r.method == "GET" ? Tenants(r, caller) : method_not_allowed();
  if (path.rfind("/v1/tenants/", 0) == 0 && path.size() > 12) return TenantRoute(r, caller, path.substr(12));
  if (path == "/v1/types") return r.method == "GET" ? Types(r, caller) : method_not_allowed();
  if (path.rfind("/v1/types/", 0) == 0 && path.size() > 10) return TypeRoute(r, caller, path.substr(10));
  const std::string kSchedules = "/v1/schedules/";
  if (path.rfind(kSchedules, 0) == 0 && path.size() > kSchedules.size()) {
    std::string name = path.substr(kSchedules.size());
    if (auto colon = name.rfind(':'); colon != std::string::npos &&
                                      (name.ends_with(":pause") || name.ends_with(":resume"))) {
      if (r.method != "POST") return method_not_allowed();
      return PauseSchedule(r, caller, name.substr(0, colon), name.ends_with(":pause"));
    }
    if (name.ends_with(":run")) {
      if (r.method != "POST") return method_not_allowed();
      return RunSchedule(r, caller, name.substr(0, name.size() - 4));
    }
    if (r.method == "GET") return GetSchedule(r, caller, name);
    if (r.method == "DELETE") return DeleteSchedule(r, caller, name);
    return method_not_allowed();
  }
  const std::string kTasks = "/v1/tasks/";
  if (path.rfind(kTasks, 0) == 0 && path.size() > kTasks.size()) {
    std::string rest = path.substr(kTasks.size());
    if (rest.ends_with("/tree") && rest.find('/') == rest.size() - 5) {
      if (r.method != "GET") return method_not_allowed();
      return TaskTree(r, caller, rest.substr(0, rest.size() - 5));
    }
    if (rest.find('/') != std::string::npos) {
      throw ApiError{404, "not_found", "no such resource: " + path, ""};
    }
    if (auto colon = rest.find(':'); colon != std::string::npos) {
      std::string id = rest.substr(0, colon);
      std::string verb = rest.substr(colon + 1);
      if (r.method != "POST") return method_not_allowed();
      if (verb == "cancel") return Cancel(r, caller, id);
      if (verb == "retry") return Retry(r, caller, id);
      throw ApiError{404, "not_found", "unknown action ':" + verb + "'", ""};
    }
    if (r.method == "GET") return GetTask(r, caller, rest);
    if (r.method == "DELETE") return Delete(r, caller, rest);
    return method_not_allowed();
  }
  throw ApiError{404, "not_found", "no such resource: " + path, ""};
}

NewTask Router::PrepareEnqueue(const Request& r, const Caller& caller) {
  v1::EnqueueRequest m;
  Decode(RequestFormat(r), r.body, m);
  NewTask task = PrepareTask(RequestFor(m, caller), types_, options_.limits);
  backpressure_.Check(task.tenant);
  tenants_.CheckEnqueue(std::span<const NewTask>(&task, 1), types_, RuleFor(caller));
  return task;
}

Response Router::Enqueued(const Request& r, const NewTask& task, const EnqueueResult& result) {
  if (result.created) metrics_.Enqueued(task.queue, task.type, 1);
  return Reply(r, result.created ? 201 : 200, codec::EnqueuedTask(result, task));
}

Response Router::Enqueue(const Request& r, const Caller& caller) {
  NewTask task = PrepareEnqueue(r, caller);
  // Committed with the single enqueues of other requests (group commit).
  return Enqueued(r, task, combiner_.Enqueue(task, SteadyClock::now() + kPoolWait));
}

bool Router::HandleAsync(const Request& r, const Caller& caller, std::function<void(Response)> reply) {
  if (r.path != "/v1/tasks" || r.method != "POST") return false;
  try {
    NewTask task = PrepareEnqueue(r, caller);
    combiner_.EnqueueAsync(std::move(task), SteadyClock::now() + kPoolWait,
                           [this, &r, reply](const NewTask& t, const EnqueueResult& result, std::exception_ptr error) {
                             Response response;
                             try {
                               if (error) std::rethrow_exception(error);
                               response = Enqueued(r, t, result);
                             } catch (...) {
                               response = CurrentError(r);
                             }
                             reply(std::move(response));
                           });
  } catch (...) {
    reply(CurrentError(r));
  }
  return true;
}

Response Router::EnqueueBatch(const Request& r, const Caller& caller) {
  v1::EnqueueBatchRequest m;
  Decode(RequestFormat(r), r.body, m);
  if (m.tasks_size() == 0) throw ApiError{400, "invalid_argument", "the batch is empty", "tasks"};
  if (static_cast<uint32_t>(m.tasks_size()) > options_.max_batch) {
    throw ApiError{413, "batch_too_large",
                   "a batch holds at most " + std::to_string(options_.max_batch) + " tasks, got " +
                       std::to_string(m.tasks_size()),
                   "tasks"};
  }
  std::vector<NewTask> tasks;
  tasks.reserve(m.tasks_size());
  for (int i = 0; i < m.tasks_size(); ++i) {
    try {
      tasks.push_back(PrepareTask(RequestFor(m.tasks(i), caller), types_, options_.limits));
      tenants_.CheckUse(tasks.back(), types_, RuleFor(caller));
    } catch (const PermissionDenied& e) {
      throw ApiError{403, "permission_denied", "tasks[" + std::to_string(i) + "]: " + e.what(),
                     "tasks[" + std::to_string(i) + "]." + e.field()};
    } catch (const PayloadTooLarge& e) {
      throw ApiError{413, "payload_too_large", e.what(),
                     "tasks[" + std::to_string(i) + "]." + e.field()};
    } catch (const PermanentError& e) {
      throw ApiError{400, "invalid_argument", "tasks[" + std::to_string(i) + "]: " + e.what(),
                     "tasks[" + std::to_string(i) + "]." + e.field()};
    }
  }
  backpressure_.Check(tasks.front().tenant);
  tenants_.ReserveWaiting(tasks);
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  auto results = store->Enqueue(tasks);  // one transaction
  v1::EnqueueBatchResponse out;
  bool any_created = false;
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& res = results[i];
    if (res.created) metrics_.Enqueued(tasks[i].queue, tasks[i].type, 1);
    *out.add_tasks() = codec::ToProto(res);
    any_created |= res.created;
  }
  return Reply(r, any_created ? 201 : 200, out);
}

Response Router::GetTask(const Request& r, const Caller& caller, const std::string& id) {
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  return Reply(r, 200, ForCaller(codec::ToProto(VisibleTask(*store, caller, id), types_), caller));
}

Response Router::ListTasks(const Request& r, const Caller& caller) {
  // state, type, queue, tenant (operators), priority, created_after,
  // created_before, where: one reading for every console route.
  v1::TaskFilter m = FilterFromQuery(r);
  ListFilter filter = ScopedFilter(m, caller);
  filter.limit = LimitParam(r, filter.limit, kMaxPageSize);
  if (std::string cursor = Param(r, "cursor"); !cursor.empty()) ParseCursor(cursor, filter);
  const uint32_t page = filter.limit;
  filter.limit = page + 1;  // one more tells whether a next page exists
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  auto tasks = store->ListTasks(filter);
  v1::ListTasksResponse out;
  for (uint32_t i = 0; i < tasks.size() && i < page; ++i) {
    *out.add_tasks() = ForCaller(codec::ToProto(tasks[i], types_), caller);
  }
  if (tasks.size() > page) out.set_next_cursor(CursorOf(tasks[page - 1]));
  return Reply(r, 200, out);
}

Response Router::Cancel(const Request& r, const Caller& caller, const std::string& id) {
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  TaskView task = VisibleTask(*store, caller, id);
  auto result = store->Cancel(id);
  if (!result.changed && result.state != TaskState::kRunning) {
    throw ApiError{409, "failed_precondition",
                   "task " + id + " is already " + std::string(ToString(result.state)), ""};
  }
  if (caller.operator_role) store->AppendAudit(AuditOf(caller, "task.cancel", id, 1, ""));
  auto after = store->GetTask(id);
  return Reply(r, 200, ForCaller(codec::ToProto(after.value_or(task), types_), caller));
}

Response Router::Retry(const Request& r, const Caller& caller, const std::string& id) {
  RequireOperator(caller);
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  auto result = store->Replay(id);
  if (!result.found) throw ApiError{404, "not_found", "no task " + id, "id"};
  if (!result.changed) {
    throw ApiError{409, "failed_precondition",
                   "task " + id + " is " + std::string(ToString(result.state)) +
                       "; only failed, dead or cancelled tasks can be retried",
                   ""};
  }
  store->AppendAudit(AuditOf(caller, "task.retry", id, 1, ""));
  return Reply(r, 200, codec::ToProto(*store->GetTask(id), types_));
}

Response Router::Delete(const Request& /*request*/, const Caller& caller, const std::string& id) {
  RequireOperator(caller);
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  auto task = store->GetTask(id);
  if (!task) throw ApiError{404, "not_found", "no task " + id, "id"};
  if (!store->DeleteTerminal(id)) {
    throw ApiError{409, "failed_precondition",
                   "task " + id + " is " + std::string(ToString(task->state)) +
                       "; only finished tasks can be deleted",
                   ""};
  }
  store->AppendAudit(AuditOf(caller, "task.delete", id, 1, ""));
  return {204, "", ""};
}

Response Router::Queues(const Request& r, const Caller& caller) {
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  const std::string tenant = caller.operator_role ? "" : caller.tenant;
  v1::ListQueuesResponse out;
  std::map<std::string, QueueDetail> details;
  for (auto& d : store->QueueDetails(tenant, kWorkerStaleAfterMs)) details[d.queue] = std::move(d);
  for (const auto& q : store->QueueStatuses(tenant)) {
    v1::QueueStatus& p = *out.add_queues() = codec::ToProto(q);
    p.set_oldest_age_s(q.oldest_queued_age_seconds);
    if (auto it = details.find(q.queue); it != details.end()) {
      for (const auto& [priority, n] : it->second.by_priority) {
        (*p.mutable_depth_by_priority())[std::to_string(priority)] =
            static_cast<int32_t>(std::min<int64_t>(n, std::numeric_limits<int32_t>::max()));
      }
      p.set_consumers(static_cast<int32_t>(std::min<int64_t>(it->second.consumers, 1 << 30)));
      p.set_rate(it->second.rate);
    }
  }
  return Reply(r, 200, out);
}

Response Router::Workers(const Request& r, const Caller& caller) {
  RequireOperator(caller);  // every tenant's workers and tasks
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  return Reply(r, 200, codec::ToProto(store->Monitor(kWorkerStaleAfterMs)));
}

Response Router::TaskTree(const Request& r, const Caller& caller, const std::string& id) {
  constexpr uint32_t kMaxNodes = 10000;
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  VisibleTask(*store, caller, id);  // descendants share the root's tenant
  v1::TaskTreeResponse out;
  for (const auto& n : store->TaskTree(id, kMaxNodes)) *out.add_nodes() = codec::ToProto(n);
  return Reply(r, 200, out);
}

}  // namespace fila::api
