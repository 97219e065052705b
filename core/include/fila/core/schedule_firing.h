#pragma once

// The rules of cron schedules that every store applies the same way: what a
// valid new schedule is, which slots of a due schedule fire or are missed,
// and the task each slot enqueues. Pure: no I/O, no clock of its own.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fila/core/cron.h"
#include "fila/core/store_types.h"
#include "fila/core/task_types.h"

namespace fila {

// Checks a new schedule (name, catch-up policy, cron expression and time
// zone) and returns its first slot after `now_ms`. PermanentError when it
// is invalid or never fires.
int64_t FirstSlotOfNewSchedule(const ScheduleSpec& spec, int64_t now_ms);

// What one firing pass does with one due schedule.
struct SlotPlan {
  std::vector<int64_t> fire;  // slots to enqueue, oldest first
  int64_t missed = 0;         // slots skipped (catch-up policy, or too many to walk)
  int64_t next = 0;           // the schedule's next slot; 0: none left
};

// Walks the slots of a schedule from `next_fire_at_ms` up to `now_ms`.
// Slots within `grace_ms` of now fire; older ones were missed: catch-up
// `skip` drops them, `latest` fires the newest missed one when no slot is
// within the grace. Bounded: a schedule every second that was down for a
// week is not walked slot by slot.
SlotPlan PlanSlots(const ScheduleSpec& spec, const CronSchedule& cron, int64_t next_fire_at_ms,
                   int64_t now_ms, int64_t grace_ms);

// The task of one slot, keyed schedule:<name>:<slot ms> so that a slot runs
// once whoever fires it. PermanentError when the schedule's type or payload
// no longer validates.
NewTask SlotTask(const ScheduleSpec& spec, int64_t slot_ms, const TaskTypes& types, int64_t now_ms);

}  // namespace fila
