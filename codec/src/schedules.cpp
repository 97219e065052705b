#include "fila/codec/schedules.h"

#include <google/protobuf/util/json_util.h>

#include "time_support.h"

namespace fila::codec {

v1::Schedule ToProto(const ScheduleView& v, const TaskTypes& types) {
  v1::Schedule s = ToRequest(v.spec, types);
  s.set_paused(v.paused);
  // Unset (0) and, defensively, times before the epoch are left out.
  if (v.next_fire_at_ms > 0) SetTime(v.next_fire_at_ms, [&] { return s.mutable_next_fire_at(); });
  if (v.last_slot_at_ms > 0) SetTime(v.last_slot_at_ms, [&] { return s.mutable_last_slot_at(); });
  if (v.next_fire_at_ms > 0) SetTime(v.next_fire_at_ms, [&] { return s.mutable_next_fire(); });
  if (v.last_slot_at_ms > 0) SetTime(v.last_slot_at_ms, [&] { return s.mutable_last_fire(); });
  s.set_last_task_id(v.last_task_id);
  s.set_fired(v.fired);
  s.set_missed(v.missed);
  return s;
}

ScheduleView FromProto(const v1::Schedule& s) {
  ScheduleView v;
  v.spec.name = s.name();
  v.spec.cron = s.cron();
  v.spec.timezone = s.timezone();
  v.spec.type = s.type();
  v.spec.queue = s.queue();
  v.spec.priority = s.priority();
  v.spec.max_attempts = s.max_attempts();
  v.spec.timeout_ms = s.timeout_ms();
  v.spec.catch_up = s.catch_up();
  v.paused = s.paused();
  v.next_fire_at_ms = Ms(s.next_fire_at());
  v.last_slot_at_ms = Ms(s.last_slot_at());
  v.last_task_id = s.last_task_id();
  v.fired = s.fired();
  v.missed = s.missed();
  return v;
}

v1::Schedule ToRequest(const ScheduleSpec& spec, const TaskTypes& types) {
  v1::Schedule s;
  s.set_name(spec.name);
  s.set_cron(spec.cron);
  s.set_timezone(spec.timezone);
  s.set_type(spec.type);
  s.set_queue(spec.queue);
  s.set_priority(spec.priority);
  if (types.Contains(spec.type)) s.set_payload_json(types.PayloadToJson(spec.type, spec.payload));
  s.set_max_attempts(spec.max_attempts);
  s.set_timeout_ms(spec.timeout_ms);
  s.set_catch_up(spec.catch_up);
  return s;
}

TaskRequest SlotRequest(const v1::Schedule& m, std::string tenant) {
  TaskRequest request;
  request.type = m.type();
  request.queue = m.queue();
  request.priority = m.priority();
  if (m.max_attempts() > 0) request.max_attempts = m.max_attempts();
  if (m.timeout_ms() > 0) request.timeout_ms = m.timeout_ms();
  request.tenant = std::move(tenant);
  if (m.body_case() == v1::Schedule::kPayloadJson) {
    request.payload_form = TaskRequest::PayloadForm::kJson;
    request.payload = m.payload_json();
  } else if (m.body_case() == v1::Schedule::kArgs) {
    request.payload_form = TaskRequest::PayloadForm::kJson;
    (void)google::protobuf::util::MessageToJsonString(m.args(), &request.payload);
  }
  return request;
}

}  // namespace fila::codec
