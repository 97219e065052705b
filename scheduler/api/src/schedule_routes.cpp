// The cron schedule routes of the API (/v1/schedules): a tenant's own only.
#include <google/protobuf/util/json_util.h>

#include "fila/api_codec.h"
#include "fila/task_request.h"
#include "router.h"
#include "router_support.h"

namespace fila::api {
namespace {

v1::Schedule ScheduleToProto(const ScheduleView& v, const TaskTypes& types) {
  v1::Schedule s;
  s.set_name(v.spec.name);
  s.set_cron(v.spec.cron);
  s.set_timezone(v.spec.timezone);
  s.set_type(v.spec.type);
  s.set_queue(v.spec.queue);
  s.set_priority(v.spec.priority);
  if (types.Contains(v.spec.type)) s.set_payload_json(types.PayloadToJson(v.spec.type, v.spec.payload));
  s.set_max_attempts(v.spec.max_attempts);
  s.set_timeout_ms(v.spec.timeout_ms);
  s.set_catch_up(v.spec.catch_up);
  s.set_paused(v.paused);
  auto set_time = [](int64_t ms, google::protobuf::Timestamp* t) {
    t->set_seconds(ms / 1000);
    t->set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
  };
  if (v.next_fire_at_ms > 0) set_time(v.next_fire_at_ms, s.mutable_next_fire_at());
  if (v.last_slot_at_ms > 0) set_time(v.last_slot_at_ms, s.mutable_last_slot_at());
  s.set_last_task_id(v.last_task_id);
  s.set_fired(v.fired);
  s.set_missed(v.missed);
  return s;
}

}  // namespace

Response Router::AddSchedule(const Request& r, const Caller& caller) {
  v1::Schedule m;
  Decode(RequestFormat(r), r.body, m);
  // The schedule's task is checked now, as an enqueue would be.
  TaskRequest request;
  request.type = m.type();
  request.queue = m.queue();
  request.priority = m.priority();
  if (m.max_attempts() > 0) request.max_attempts = m.max_attempts();
  if (m.timeout_ms() > 0) request.timeout_ms = m.timeout_ms();
  request.tenant = caller.tenant;
  if (m.body_case() == v1::Schedule::kPayloadJson) {
    request.payload_form = TaskRequest::PayloadForm::kJson;
    request.payload = m.payload_json();
  } else if (m.body_case() == v1::Schedule::kArgs) {
    request.payload_form = TaskRequest::PayloadForm::kJson;
    (void)google::protobuf::util::MessageToJsonString(m.args(), &request.payload);
  }
  NewTask task = PrepareTask(request, types_, options_.limits);
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  ScheduleSpec spec = ScheduleOf(task, m.name(), m.cron(), m.timezone(), m.catch_up());
  tenants_.CheckSchedule(spec, task, types_, RuleFor(caller));
  return Reply(r, 201, ScheduleToProto(store->AddSchedule(spec), types_));
}

Response Router::ListSchedules(const Request& r, const Caller& caller) {
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  v1::ListSchedulesResponse out;
  for (const auto& s : store->ListSchedules(caller.tenant)) {
    *out.add_schedules() = ScheduleToProto(s, types_);
  }
  return Reply(r, 200, out);
}

Response Router::GetSchedule(const Request& r, const Caller& caller, const std::string& name) {
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  auto s = store->GetSchedule(caller.tenant, name);
  if (!s) throw ApiError{404, "not_found", "no schedule " + name, "name"};
  return Reply(r, 200, ScheduleToProto(*s, types_));
}

Response Router::PauseSchedule(const Request& r, const Caller& caller, const std::string& name,
                               bool paused) {
  auto store = stores_.Acquire(SteadyClock::now() + kPoolWait);
  if (!store->SetSchedulePaused(caller.tenant, name, paused)) {
    throw ApiError{404, "not_found", "no schedule " + name, "name"};
  }
  return Reply(r, 200, ScheduleToProto(*store->GetSchedule(caller.tenant, name), types_));
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
