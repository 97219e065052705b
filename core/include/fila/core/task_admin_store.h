#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fila/core/store_types.h"

namespace fila {

// What producers and operators (the API, the ingest consumer, the CLI) do
// with tasks and schedules. Errors as in WorkerStore. Reads by id are not
// filtered by tenant: the caller checks the returned task's tenant.
class TaskAdminStore {
 public:
  virtual ~TaskAdminStore() = default;

  // Inserts tasks and their outbox rows in one transaction. A task whose
  // (tenant, idempotency_key) exists is not inserted; its existing id is
  // returned with created = false. Tasks with depends_on start blocked.
  virtual std::vector<EnqueueResult> Enqueue(std::span<const NewTask> tasks) = 0;
  // Enqueues independent tasks in one transaction (one commit), each as if
  // it were enqueued alone, in order: a task that Enqueue would refuse with
  // a PermanentError gets that error in its outcome and the others are
  // still inserted; a repeated idempotency key within `tasks` answers the
  // first one's id (created = false), as two sequential calls would.
  // A TransientError fails them all: it is thrown, nothing is committed.
  virtual std::vector<EnqueueOutcome> EnqueueEach(std::span<const NewTask> tasks) = 0;

  // A queued, scheduled or blocked task is cancelled at once; a running one
  // is flagged, and its worker cancels it.
  virtual RequestResult Cancel(const std::string& id) = 0;
  // A failed, dead or cancelled task is queued again with a fresh budget of
  // attempts (attempt numbers keep increasing).
  virtual RequestResult Replay(const std::string& id) = 0;
  // Replays every dead task (of `type`, when not empty); returns how many.
  virtual int64_t ReplayDead(const std::string& type) = 0;

  virtual std::optional<TaskView> GetTask(const std::string& id) = 0;
  // The task and its descendants (children of children, ...), root first,
  // at most `limit` nodes. Empty when there is no such task.
  virtual std::vector<TaskTreeNode> TaskTree(const std::string& id, uint32_t limit) = 0;
  virtual std::vector<TaskView> ListTasks(const ListFilter& filter) = 0;
  // Deletes a terminal task with its attempts; false when it is not terminal.
  virtual bool DeleteTerminal(const std::string& id) = 0;

  // Cron schedules, per tenant. AddSchedule computes the first slot after
  // now; PermanentError when the name is taken.
  virtual ScheduleView AddSchedule(const ScheduleSpec& spec) = 0;
  virtual std::vector<ScheduleView> ListSchedules(const std::string& tenant) = 0;
  virtual std::optional<ScheduleView> GetSchedule(const std::string& tenant,
                                                  const std::string& name) = 0;
  // Resuming computes the next slot after now: slots of the pause are not
  // caught up. False when there is no such schedule.
  virtual bool SetSchedulePaused(const std::string& tenant, const std::string& name,
                                 bool paused) = 0;
  virtual bool DeleteSchedule(const std::string& tenant, const std::string& name) = 0;

  // Queue pauses (operators). While a queue is paused the relay publishes
  // none of its outbox rows and Claim starts none of its tasks: they stay
  // queued with their attempt unchanged, and a message already in the
  // broker is answered `paused` with the task's outbox row written back in
  // the same statement, so resuming publishes it again. Running tasks finish
  // normally. PauseQueue keeps an earlier pause's who and when and returns
  // false for it; ResumeQueue returns false when the queue was not paused,
  // and wakes the relay. PermanentError for a bad queue name.
  virtual bool PauseQueue(const std::string& queue, const std::string& by) = 0;
  virtual bool ResumeQueue(const std::string& queue) = 0;
  virtual std::vector<QueuePause> QueuePauses() = 0;

  virtual std::vector<QueueStateCount> CountByQueueAndState() = 0;
  // Per queue: counts by state, oldest queued age, mean run time, pause.
  // With tenant "" (operators) a paused queue is listed even when empty.
  virtual std::vector<QueueStatusView> QueueStatuses(const std::string& tenant) = 0;
  // Tasks not yet terminal and not blocked: queued, scheduled or running.
  virtual int64_t CountActive() = 0;
};

}  // namespace fila
