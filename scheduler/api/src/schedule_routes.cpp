// The cron schedule routes of the API (/v1/schedules): a tenant's own only.
#include "fila/codec/schedules.h"
#include "fila/core/task_request.h"
#include "console_routes.h"
#include "router.h"
#include "router_support.h"

namespace fila::api {
Response Router::AddSchedule(const Request& r, const Caller& caller) {
  v1::Schedule m;
  Decode(RequestFormat(r), r.body, m);
  // The schedule's task is checked now, as an enqueue would be.
  TaskRequest request = codec::SlotRequest(m, caller.tenant);
  NewTask task = PrepareTask(request, types_, options_.limits);
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  ScheduleSpec spec = ScheduleOf(task, m.name(), m.cron(), m.timezone(), m.catch_up());
  tenants_.CheckSchedule(spec, task, types_, RuleFor(caller));
  return Reply(r, 201, codec::ToProto(store->AddSchedule(spec), types_));
}

Response Router::ListSchedules(const Request& r, const Caller& caller) {
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  v1::ListSchedulesResponse out;
  for (const auto& s : store->ListSchedules(caller.tenant)) {
    *out.add_schedules() = codec::ToProto(s, types_);
  }
  return Reply(r, 200, out);
}

Response Router::GetSchedule(const Request& r, const Caller& caller, const std::string& name) {
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  auto s = store->GetSchedule(caller.tenant, name);
  if (!s) throw ApiError{404, "not_found", "no schedule " + name, "name"};
  return Reply(r, 200, codec::ToProto(*s, types_));
}

Response Router::PauseSchedule(const Request& r, const Caller& caller, const std::string& name,
                               bool paused) {
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  if (!store->SetSchedulePaused(caller.tenant, name, paused)) {
    throw ApiError{404, "not_found", "no schedule " + name, "name"};
  }
  store->AppendAudit(AuditOf(caller, paused ? "schedule.pause" : "schedule.resume", name, 0, ""));
  return Reply(r, 200, codec::ToProto(*store->GetSchedule(caller.tenant, name), types_));
}

Response Router::DeleteSchedule(const Request& /*r*/, const Caller& caller,
                                const std::string& name) {
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  if (!store->DeleteSchedule(caller.tenant, name)) {
    throw ApiError{404, "not_found", "no schedule " + name, "name"};
  }
  return {204, "", ""};
}

}  // namespace fila::api
