#pragma once

// Cron schedules (fila.v1.Schedule), both ways. Stateless.

#include <string>

#include "fila/core/state_store.h"
#include "fila/core/task_request.h"
#include "fila/core/task_types.h"
#include "fila/v1/api.pb.h"

namespace fila::codec {

// What the API shows; the payload as payload_json when `types` knows the
// type. The tenant is not part of the message.
v1::Schedule ToProto(const ScheduleView& schedule, const TaskTypes& types);
// The payload stays empty: the message carries it as JSON only.
ScheduleView FromProto(const v1::Schedule& schedule);

// The body of POST /v1/schedules for `spec` (its read-only fields and
// tenant left out).
v1::Schedule ToRequest(const ScheduleSpec& spec, const TaskTypes& types);
// The task each slot of a POSTed schedule creates, for `tenant`, as a
// request PrepareTask checks like an enqueue.
TaskRequest SlotRequest(const v1::Schedule& schedule, std::string tenant);

}  // namespace fila::codec
