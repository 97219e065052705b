// The queue routes of the API: POST /v1/queues/{queue}:pause and :resume,
// operators only (docs/operations.md, "Pausing a queue"). GET /v1/queues
// (router.cpp) shows the pauses.
#include "fila/codec/monitor.h"
#include "fila/core/task_types.h"
#include "console_routes.h"
#include "router.h"
#include "router_support.h"

namespace fila::api {

Response Router::QueueRoute(const Request& r, const Caller& caller, const std::string& rest) {
  if (rest.find('/') != std::string::npos) throw ApiError{404, "not_found", "no such resource: " + r.path, ""};
  const auto colon = rest.rfind(':');
  const std::string verb = colon == std::string::npos ? "" : rest.substr(colon + 1);
  if (verb != "pause" && verb != "resume") {
    throw ApiError{404, "not_found", "no such resource: " + r.path + " (POST :pause or :resume)", ""};
  }
  if (r.method != "POST") {
    throw ApiError{405, "method_not_allowed", r.method + " is not allowed on " + r.path, ""};
  }
  RequireOperator(caller);  // a producer must not stop every tenant's work
  const std::string queue = rest.substr(0, colon);
  ValidateQueueName(queue);  // 400 with the rule, before the database
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  if (verb == "pause") {
    store->PauseQueue(queue, "token " + caller.token_id);  // a repeat keeps the first pause
  } else {
    store->ResumeQueue(queue);  // resuming a running queue changes nothing
  }
  store->AppendAudit(AuditOf(caller, "queue." + verb, queue, 0, ""));
  for (const auto& q : store->QueueStatuses("")) {
    if (q.queue == queue) return Reply(r, 200, codec::ToProto(q));
  }
  v1::QueueStatus empty;  // resumed and holding no task
  empty.set_queue(queue);
  return Reply(r, 200, empty);
}

}  // namespace fila::api
