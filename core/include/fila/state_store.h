#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fila/core/lifecycle.h"
#include "fila/envelope.h"
#include "fila/key_limiter.h"
#include "fila/monitor.h"
#include "fila/task_state.h"
#include "fila/task_types.h"

namespace fila {

// Timestamps are Unix milliseconds; 0 means "not set".

struct NewTask {
  std::string type;
  uint32_t type_version = 0;    // the version of `type` it was checked against; 0: compiled in
  std::string queue = "default";
  uint32_t priority = 0;
  uint32_t max_attempts = 1;
  uint32_t timeout_ms = 0;
  std::string tenant = "default";
  std::string idempotency_key;  // empty: none
  std::string payload;          // serialized payload message of `type`
  std::string trace_id;
  int64_t run_at_ms = 0;        // 0: now
  uint32_t retry_base_ms = 0;   // 0: the type's retry policy
  uint32_t retry_cap_ms = 0;    // 0: the type's retry policy
  std::string id;               // empty: the store picks one
  std::string parent_id;        // the task whose handler enqueued this one
  std::vector<std::string> depends_on;
  std::string limit_key;        // empty: no per-key limit
  LimitSpec limit;
};

struct EnqueueResult {
  std::string id;
  TaskState state = TaskState::kQueued;
  bool created = true;  // false: an existing task had the idempotency key
};

struct OutboxItem {
  int64_t outbox_id = 0;
  Envelope envelope;
};

struct ClaimedTask {
  std::string id;
  uint32_t attempt = 0;  // the fencing token of this execution
  uint32_t max_attempts = 0;
  uint32_t timeout_ms = 0;
  int64_t created_at_ms = 0;
  int64_t due_at_ms = 0;  // when it became runnable: run_at (enqueue, delay or retry time)
  uint32_t retry_base_ms = 0;  // 0: the type's retry policy
  uint32_t retry_cap_ms = 0;
};

struct ClaimResult {
  std::vector<ClaimedTask> claimed;
  std::vector<std::string> not_claimable;  // exists but not queued: duplicate or cancelled
  std::vector<std::string> unknown;        // no such task
  // Queued but over its key's limit: now scheduled to wait for room (a
  // concurrency unit or a rate slot) without holding a worker slot.
  std::vector<std::string> deferred;
};

struct FinishRecord {
  std::string id;
  uint32_t attempt = 0;
  TaskState state = TaskState::kSucceeded;  // succeeded, scheduled, failed, dead, cancelled
  Outcome outcome = Outcome::kSucceeded;
  std::string error;
  std::string error_kind;  // "transient", "permanent", "timeout", ...
  int64_t retry_at_ms = 0; // with state == scheduled
  std::string result;
  std::string worker;
  int64_t started_at_ms = 0;
  // Tasks the handler enqueued; inserted in the finish's transaction, and
  // only when it succeeded (state == succeeded and the fence matched).
  std::vector<NewTask> children;
  // The children are refused (and the task fails) when its workflow tree
  // would hold more tasks than this; 0: no cap.
  size_t max_tree_tasks = 0;
};

struct ProgressUpdate {
  std::string id;
  uint32_t attempt = 0;
  int32_t percent = 0;
  std::string message;
};

struct AttemptView {
  uint32_t attempt = 0;
  std::string worker;
  std::string outcome;
  std::string error;
  std::string error_kind;
  int64_t started_at_ms = 0;
  int64_t finished_at_ms = 0;
  int64_t retry_at_ms = 0;  // when the next attempt was scheduled, if one was
};

struct TaskView {
  std::string id;
  std::string type;
  std::string queue;
  uint32_t priority = 0;
  TaskState state = TaskState::kQueued;
  uint32_t attempt = 0;
  uint32_t max_attempts = 0;
  uint32_t timeout_ms = 0;
  std::string tenant;
  std::string idempotency_key;
  std::string payload;
  std::string trace_id;
  std::string worker;
  std::string last_error;
  std::string result;
  int32_t progress = 0;
  std::string progress_message;
  int64_t created_at_ms = 0;
  int64_t run_at_ms = 0;
  int64_t started_at_ms = 0;
  int64_t finished_at_ms = 0;
  bool cancel_requested = false;
  int64_t created_at_us = 0;  // exact, for keyset cursors
  std::string parent_id;      // the task whose handler enqueued this one
  std::string limit_key;
  uint32_t type_version = 0;  // the version of `type` it was enqueued under; 0: compiled in
  std::vector<AttemptView> attempts;  // filled by GetTask only
  std::vector<std::string> depends_on;  // filled by GetTask only
};

// One task of a workflow tree: a task and, level by level, the tasks its
// handler (and theirs) enqueued.
struct TaskTreeNode {
  std::string id;
  std::string type;
  TaskState state = TaskState::kQueued;
  std::string parent_id;  // empty for the root
  uint32_t depth = 0;
  std::vector<std::string> depends_on;
  std::string last_error;
};

// A cron schedule. Times are Unix ms.
struct ScheduleSpec {
  std::string tenant = "default";
  std::string name;
  std::string cron;
  std::string timezone = "UTC";
  std::string type;
  std::string queue;
  uint32_t priority = 0;
  std::string payload;  // serialized payload message of `type`
  uint32_t max_attempts = 1;
  uint32_t timeout_ms = 0;
  std::string catch_up = "skip";  // skip | latest
};

struct ScheduleView {
  ScheduleSpec spec;
  bool paused = false;
  int64_t next_fire_at_ms = 0;  // 0: no slot left
  int64_t last_slot_at_ms = 0;
  std::string last_task_id;
  int64_t fired = 0;
  int64_t missed = 0;
};

// What one pass of the leader's cron loop did.
struct ScheduleFiring {
  std::string tenant;
  std::string name;
  int64_t slot_ms = 0;
  std::string task_id;
  bool created = false;  // false: the slot's task existed (fired before)
};

struct FireResult {
  std::vector<ScheduleFiring> fired;
  int64_t missed = 0;            // slots skipped by the catch-up policy
  int64_t next_due_in_ms = -1;   // until the next slot of any schedule; -1: none
};

struct ListFilter {
  std::optional<TaskState> state;
  std::string type;    // empty: any
  std::string queue;   // empty: any
  std::string tenant;  // empty: any
  uint32_t limit = 50;
  // Keyset cursor: only tasks older than (created_at, id), newest first.
  int64_t before_created_at_us = 0;
  std::string before_id;
};

struct QueueStatusView {
  std::string queue;
  std::vector<std::pair<TaskState, int64_t>> counts;
  double oldest_queued_age_seconds = 0;
  double mean_run_seconds = 0;  // successes of the last hour
};

struct TokenInfo {
  std::string id;
  std::string tenant;
  std::string role;  // producer | operator
  int64_t created_at_ms = 0;
  int64_t revoked_at_ms = 0;
};

struct QueueStateCount {
  std::string queue;
  TaskState state = TaskState::kQueued;
  int64_t count = 0;
};

// A running task the reaper took back from a lost worker or an expired lease.
struct ReapedTask {
  std::string id;
  uint32_t attempt = 0;
  std::string worker;
  // Why it was taken back (DecideLostAttempt); ToString gives the text
  // stored as its error, MetricLabel the metric's label.
  ReapReason reason = ReapReason::kLeaseExpired;
  TaskState state = TaskState::kQueued;  // queued (retry), dead or cancelled
  std::string queue;
  std::string type;
};

struct AttemptRef {
  std::string id;
  uint32_t attempt = 0;
  bool operator<(const AttemptRef& o) const { return id < o.id || (id == o.id && attempt < o.attempt); }
  bool operator==(const AttemptRef&) const = default;
};

// What a cancel or replay request found and did.
struct RequestResult {
  bool found = false;
  bool changed = false;
  TaskState state = TaskState::kQueued;  // the task's state afterwards
};

struct WorkerInfo {
  std::string id;
  std::string hostname;
  int64_t pid = 0;
  std::vector<std::string> queues;
  uint32_t concurrency = 0;
  // Totals of this worker process since it started (for fila top).
  uint64_t succeeded = 0;  // committed finishes with outcome succeeded
  uint64_t failed = 0;     // committed finishes with any other outcome
  std::map<std::string, uint64_t> finished_by_queue;
  // Tasks this worker claimed and has not recorded a finish for yet: only
  // their leases are extended. A task running under this worker's name but
  // unknown to it (a claim that committed while its answer was lost) then
  // expires and is retried, instead of being kept alive by every heartbeat.
  std::vector<std::string> held;
};

// Durable task state. Every state change is one guarded UPDATE.
// Not thread-safe: one instance (one database connection) per owning thread.
// Connection and serialization failures throw TransientError; the next call
// reconnects. Bad input throws PermanentError.
class StateStore {
 public:
  virtual ~StateStore() = default;

  // Inserts tasks and their outbox rows in one transaction. A task whose
  // (tenant, idempotency_key) exists is not inserted; its existing id is
  // returned with created = false.
  virtual std::vector<EnqueueResult> Enqueue(std::span<const NewTask> tasks) = 0;

  // Oldest outbox rows with their envelopes, for the relay.
  virtual std::vector<OutboxItem> FetchOutbox(uint32_t limit) = 0;
  virtual void DeleteOutbox(std::span<const int64_t> outbox_ids) = 0;
  // Moves scheduled tasks whose run_at has passed to queued, with outbox
  // rows; returns how many. `next_due_in_ms`, when given, receives the time
  // until the next scheduled task is due (-1: none; <= 0: due now).
  virtual int64_t ReleaseDue(uint32_t limit, int64_t* next_due_in_ms = nullptr) = 0;

  // queued -> running for every id still queued, attempt + 1, in one
  // statement. Ids that are not claimable are reported, not thrown.
  virtual ClaimResult Claim(std::span<const std::string> ids, const std::string& worker,
                            uint32_t lease_ms) = 0;
  // Applies finishes in one transaction, each guarded by (id, attempt,
  // state = running). Returns, per record, whether it applied; a stale
  // attempt applies nothing.
  virtual std::vector<bool> Finish(std::span<const FinishRecord> records) = 0;
  // Writes progress of running tasks, each fenced by attempt.
  virtual void RecordProgress(std::span<const ProgressUpdate> updates) = 0;
  // Records the worker as alive and extends the leases of its running
  // tasks among `worker.held`.
  virtual void Heartbeat(const WorkerInfo& worker, uint32_t lease_ms) = 0;
  // Removes a worker that stopped cleanly.
  virtual void Deregister(const std::string& worker_id) = 0;
  // Running attempts of `worker_id` whose cancellation was requested.
  virtual std::vector<AttemptRef> CancelRequested(const std::string& worker_id) = 0;
  // Leader only: running tasks whose worker's heartbeat is older than
  // `worker_timeout_ms` or whose lease expired go back to queued (or dead
  // when out of attempts, cancelled when cancellation was requested), with
  // an attempt recorded as lost.
  virtual std::vector<ReapedTask> ReapLost(uint32_t worker_timeout_ms, uint32_t limit) = 0;

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
  // Leader only: enqueues the due slot of every due schedule (each slot's
  // task keyed schedule:<name>:<slot ms>) and moves it to its next slot, in
  // one transaction per schedule. Slots older than `grace_ms` were missed:
  // catch-up `skip` drops them, `latest` runs the newest missed one once.
  virtual FireResult FireDueSchedules(const TaskTypes& types, int64_t grace_ms,
                                      uint32_t limit) = 0;
  virtual std::vector<TaskView> ListTasks(const ListFilter& filter) = 0;
  virtual std::vector<QueueStateCount> CountByQueueAndState() = 0;
  // Per queue: counts by state, oldest queued age, mean run time.
  virtual std::vector<QueueStatusView> QueueStatuses(const std::string& tenant) = 0;
  // Deletes a terminal task with its attempts; false when it is not terminal.
  virtual bool DeleteTerminal(const std::string& id) = 0;

  // API tokens: the token is returned once; only its SHA-256 is stored.
  virtual std::pair<TokenInfo, std::string> CreateToken(const std::string& tenant,
                                                        const std::string& role) = 0;
  // The live (not revoked) token with this secret, if any.
  virtual std::optional<TokenInfo> Authenticate(const std::string& token) = 0;
  virtual bool RevokeToken(const std::string& id) = 0;
  virtual std::vector<TokenInfo> ListTokens() = 0;
  // Tasks not yet terminal and not blocked: queued, scheduled or running.
  virtual int64_t CountActive() = 0;
  // What `fila top` and GET /v1/workers show: the workers (stale past
  // `stale_after_ms`; stale for over an hour and running nothing: only
  // counted), their running tasks, and the unfinished tasks per queue.
  virtual MonitorSnapshot Monitor(uint32_t stale_after_ms) = 0;
};

}  // namespace fila
