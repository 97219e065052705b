#pragma once

// What the daemons report about their work, independent of how it is
// exported. The base classes record nothing, so code without metrics (unit
// tests, the CLI) passes a plain instance; metrics/ implements them over
// Prometheus. Implementations are thread-safe. Labels are bounded: queue,
// task type, outcome; never a task id.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fila/core/task_state.h"

namespace fila {

class WorkerMetrics {
 public:
  virtual ~WorkerMetrics() = default;
  // Creates the series of these queues and task types at zero, so that the
  // first event of each shows as an increase in Prometheus.
  virtual void Prepare(const std::vector<std::string>& /*queues*/,
                       const std::vector<std::string>& /*types*/) {}
  // A delivery arrived; `redelivered` when the broker had delivered it before.
  virtual void Delivered(const std::string& /*queue*/, bool /*redelivered*/) {}
  // A claimed task starts; `wait_seconds` since it became due (enqueue or retry time).
  virtual void TaskStarted(const std::string& /*queue*/, const std::string& /*type*/,
                           double /*wait_seconds*/) {}
  // An attempt's finish was committed: its outcome and the task's new state.
  virtual void TaskFinished(const std::string& /*queue*/, const std::string& /*type*/,
                            Outcome /*outcome*/, TaskState /*state*/, double /*run_seconds*/) {}
  virtual void Duplicate(const std::string& /*queue*/) {}
  // A delivery whose task waits for its limit key (not run, not a slot).
  virtual void Deferred(const std::string& /*queue*/) {}
  virtual void Poison(const std::string& /*queue*/) {}
  virtual void StaleFinish() {}
  virtual void Abandoned() {}
  virtual void HandedBack() {}
  // One group commit of `records` finishes took `seconds`.
  virtual void FinishCommitted(size_t /*records*/, double /*seconds*/) {}
  virtual void Slots(uint32_t /*busy*/, uint32_t /*total*/) {}
};

// A WorkerMetrics that records nothing.
WorkerMetrics& NoWorkerMetrics();

// Live counts of the queues, sampled from the database.
struct QueueSample {
  std::string queue;
  int64_t blocked = 0;
  int64_t queued = 0;
  int64_t scheduled = 0;
  int64_t running = 0;
  double oldest_queued_age_seconds = 0;
  int64_t consumers = 0;  // live workers that consume the queue
};

class SchedulerMetrics {
 public:
  virtual ~SchedulerMetrics() = default;
  // Newly created tasks (not idempotent repeats) accepted by the API or ingest.
  virtual void Enqueued(const std::string& /*queue*/, const std::string& /*type*/,
                        uint64_t /*count*/) {}
  virtual void Published(uint64_t /*messages*/) {}
  // Messages the relay published and the broker has not confirmed yet.
  virtual void RelayInFlight(int64_t /*messages*/) {}
  virtual void Released(uint64_t /*tasks*/) {}
  // Queued tasks the reconciler published again: the broker had lost them.
  virtual void Republished(const std::string& /*queue*/, uint64_t /*tasks*/) {}
  // Cron slots the leader fired (a task enqueued) or dropped as missed.
  virtual void ScheduleSlots(uint64_t /*fired*/, uint64_t /*missed*/) {}
  // A running task taken back by the reaper (reason "lease_expired" or
  // "worker_lost"): its attempt ended lost, and the task is now `state`
  // (queued to retry, dead or cancelled).
  virtual void LeaseExpired(const std::string& /*reason*/, const std::string& /*queue*/,
                            const std::string& /*type*/, TaskState /*state*/) {}
  virtual void Leader(bool /*is_leader*/) {}
  virtual void Ingested(bool /*accepted*/) {}
  // `route` is the route's pattern (e.g. "/v1/tasks/{id}"), never a raw path.
  virtual void ApiRequest(const std::string& /*method*/, const std::string& /*route*/,
                          int /*status*/, double /*seconds*/) {}
  virtual void Queues(const std::vector<QueueSample>& /*queues*/) {}
  // Age of the oldest unpublished outbox row (0 when empty) and row count.
  virtual void Outbox(double /*lag_seconds*/, int64_t /*rows*/) {}
  virtual void Workers(int64_t /*alive*/) {}
  // Fair dispatch (docs/fairness.md): tasks published with a priority
  // raised by their wait, and whether the last pass left outbox rows of a
  // queue behind because its dispatch window was full.
  virtual void DispatchAged(const std::string& /*queue*/, uint64_t /*tasks*/) {}
  virtual void DispatchWindowFull(const std::string& /*queue*/, bool /*full*/) {}
  // One group commit of the API's single enqueues: how many tasks it
  // carried and how long the store call took.
  virtual void EnqueueGroup(size_t /*tasks*/, double /*seconds*/) {}
  // An enqueue the API refused (429) before touching the database; reason
  // commit_latency, backlog or queue_full.
  virtual void Backpressure(const std::string& /*reason*/) {}
};

// A SchedulerMetrics that records nothing.
SchedulerMetrics& NoSchedulerMetrics();

}  // namespace fila
