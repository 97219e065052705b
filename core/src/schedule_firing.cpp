#include "fila/core/schedule_firing.h"

#include <cctype>

#include "fila/core/errors.h"
#include "fila/core/task_request.h"

namespace fila {
namespace {

constexpr int kMaxSlotsWalked = 10000;

void ValidateName(const std::string& name) {
  if (name.empty() || name.size() > 128) {
    throw PermanentError("schedule name must be 1 to 128 characters", "name");
  }
  for (char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                    c == '-' || c == ':';
    if (!ok) throw PermanentError("schedule name may hold only A-Z a-z 0-9 . _ - :", "name");
  }
}

}  // namespace

int64_t FirstSlotOfNewSchedule(const ScheduleSpec& spec, int64_t now_ms) {
  ValidateName(spec.name);
  if (spec.catch_up != "skip" && spec.catch_up != "latest") {
    throw PermanentError("catch-up must be skip or latest", "catch_up");
  }
  const int64_t next = CronSchedule::Parse(spec.cron, spec.timezone).NextAfter(now_ms);
  if (next < 0) throw PermanentError("cron expression never fires", "cron");
  return next;
}

SlotPlan PlanSlots(const ScheduleSpec& spec, const CronSchedule& cron, int64_t next_fire_at_ms,
                   int64_t now_ms, int64_t grace_ms) {
  SlotPlan plan;
  int64_t next = next_fire_at_ms;
  int64_t latest_missed = 0;
  for (int walked = 0; next > 0 && next <= now_ms; ++walked) {
    if (walked == kMaxSlotsWalked) {
      ++plan.missed;  // at least; the rest are not counted one by one
      next = cron.NextAfter(now_ms);
      break;
    }
    if (now_ms - next <= grace_ms) {
      plan.fire.push_back(next);
    } else {
      if (latest_missed > 0) ++plan.missed;
      latest_missed = next;
    }
    next = cron.NextAfter(next);
  }
  if (latest_missed > 0) {
    if (plan.fire.empty() && spec.catch_up == "latest") {
      plan.fire.push_back(latest_missed);
    } else {
      ++plan.missed;
    }
  }
  plan.next = next;
  return plan;
}

NewTask SlotTask(const ScheduleSpec& spec, int64_t slot_ms, const TaskTypes& types, int64_t now_ms) {
  TaskRequest request;
  request.type = spec.type;
  request.queue = spec.queue;
  request.priority = spec.priority;
  request.max_attempts = spec.max_attempts;
  request.timeout_ms = spec.timeout_ms;
  request.tenant = spec.tenant;
  request.idempotency_key = "schedule:" + spec.name + ":" + std::to_string(slot_ms);
  request.payload_form = TaskRequest::PayloadForm::kBytes;
  request.payload = spec.payload;
  return PrepareTask(request, types, TaskLimits{}, now_ms);
}

}  // namespace fila
