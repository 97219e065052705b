#pragma once

// HTTP request handling, independent of the HTTP library.

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fila/api/api_server.h"
#include "fila/core/metrics.h"
#include "fila/core/state_store.h"
#include "authenticator.h"
#include "backpressure.h"
#include "bulk_runner.h"
#include "enqueue_combiner.h"
#include "fila/core/tenant_gate.h"
#include "fila/core/type_store.h"
#include "store_pool.h"

namespace fila::api {

struct Request {
  std::string method;  // GET, POST, DELETE, ...
  std::string path;    // percent-decoded, e.g. /v1/tasks/ID:cancel
  std::map<std::string, std::string> query;
  std::string content_type;
  std::string accept;
  std::string authorization;
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type;
  std::string body;
  int retry_after_s = 0;  // > 0: a Retry-After header
  bool close = false;     // end the connection after this answer
  // Further headers (the console's security headers: console_route.cpp).
  std::vector<std::pair<std::string, std::string>> headers;
};

// The route pattern of a request path, for metric labels: "/v1/tasks/{id}",
// never the raw path (ids would make labels unbounded); "other" when no
// route matches.
std::string RouteOf(const std::string& path);
// The method as a metric label: a standard method, or "other".
std::string MethodLabel(const std::string& method);

class Router final {
 public:
  Router(const ApiOptions& options, StorePool& stores, const TaskTypes& types, TypeStore& type_store,
         TenantGate& tenants, SchedulerMetrics& metrics, std::string database_url = {});
  // Answers an authenticated request (the HTTP layer checks the token from
  // the headers before it reads a body: Authenticate). Never throws: every
  // failure is an error response.
  Response Handle(const Request& request, const Caller& caller);
  // As Handle, for the routes that wait on the database without holding a
  // thread (POST /v1/tasks: its group commit). Returns false for any other
  // route (call Handle); true when `reply` is, or will be, called exactly
  // once, perhaps from another thread. `request` must live until then.
  // Never throws.
  bool HandleAsync(const Request& request, const Caller& caller, std::function<void(Response)> reply);
  // For GET /v1/tasks/{id}/events: status 200 when the caller may watch the
  // task, else the error response to send. Never throws.
  Response AuthorizeWatch(const Request& request, const Caller& caller, const std::string& id);
  // Where POST /v1/bulk hands its jobs (may be null: jobs wait for a
  // runner of another scheduler). Set once, before serving.
  void SetBulkRunner(BulkRunner* runner) { bulk_runner_ = runner; }
  // Authenticates a bearer header; nullopt when missing or unknown.
  // TransientError when the database cannot tell (see Authenticator).
  std::optional<Caller> Authenticate(const std::string& authorization) {
    return authenticator_.Authenticate(authorization);
  }

 private:
  Response Dispatch(const Request& request, const Caller& caller);
  Response Enqueue(const Request& request, const Caller& caller);
  // What POST /v1/tasks checks before its task joins a group commit.
  NewTask PrepareEnqueue(const Request& request, const Caller& caller);
  Response Enqueued(const Request& request, const NewTask& task, const EnqueueResult& result);
  Response EnqueueBatch(const Request& request, const Caller& caller);
  Response GetTask(const Request& request, const Caller& caller, const std::string& id);
  Response ListTasks(const Request& request, const Caller& caller);
  Response Cancel(const Request& request, const Caller& caller, const std::string& id);
  Response Retry(const Request& request, const Caller& caller, const std::string& id);
  Response Delete(const Request& request, const Caller& caller, const std::string& id);
  Response Queues(const Request& request, const Caller& caller);
  // queue_routes.cpp: POST /v1/queues/{queue}:pause | :resume (operators).
  Response QueueRoute(const Request& request, const Caller& caller, const std::string& rest);
  Response Workers(const Request& request, const Caller& caller);
  Response TaskTree(const Request& request, const Caller& caller, const std::string& id);
  Response AddSchedule(const Request& request, const Caller& caller);
  Response ListSchedules(const Request& request, const Caller& caller);
  Response GetSchedule(const Request& request, const Caller& caller, const std::string& name);
  Response PauseSchedule(const Request& request, const Caller& caller, const std::string& name,
                         bool paused);
  Response DeleteSchedule(const Request& request, const Caller& caller, const std::string& name);
  // tenant_routes.cpp: /v1/tenants (operators write; producers read their own).
  Response Tenants(const Request& request, const Caller& caller);
  Response TenantRoute(const Request& request, const Caller& caller, const std::string& rest);
  // type_routes.cpp: /v1/types (operators write; producers read their tenant's).
  Response Types(const Request& request, const Caller& caller);
  Response TypeRoute(const Request& request, const Caller& caller, const std::string& name);
  // console_routes.cpp (docs/console-api.md)
  Response WhoAmI(const Request& request, const Caller& caller);
  Response TaskErrors(const Request& request, const Caller& caller);
  Response Bulk(const Request& request, const Caller& caller);
  Response BulkRoute(const Request& request, const Caller& caller, const std::string& id);
  Response Audit(const Request& request, const Caller& caller);
  Response WorkerRoute(const Request& request, const Caller& caller, const std::string& rest);
  Response RunSchedule(const Request& request, const Caller& caller, const std::string& name);
  Response Stats(const Request& request, const Caller& caller);

  const ApiOptions& options_;
  std::string database_url_;  // for extensions' routes (ApiRouteCall)
  StorePool& stores_;
  const TaskTypes& types_;
  TypeStore& type_store_;
  TenantGate& tenants_;
  SchedulerMetrics& metrics_;
  Authenticator authenticator_;
  EnqueueCombiner combiner_;  // single enqueues, committed in groups
  Backpressure backpressure_;
  BulkRunner* bulk_runner_ = nullptr;
};

}  // namespace fila::api
