#pragma once

// The plain data the store roles (worker_store.h, leader_store.h,
// task_admin_store.h, token_store.h, monitor_store.h) take and return.

#include <cstdint>
#include <exception>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "fila/core/envelope.h"
#include "fila/core/key_limiter.h"
#include "fila/core/lifecycle.h"
#include "fila/core/monitor.h"
#include "fila/core/task_state.h"
#include "fila/core/task_types.h"

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
  // The payload as a JSON object, stored for the console's `where` filters
  // (PrepareTask fills it); empty: not searchable.
  std::string args_json;
};

struct EnqueueResult {
  std::string id;
  TaskState state = TaskState::kQueued;
  bool created = true;  // false: an existing task had the idempotency key
};

// What EnqueueEach did with one task: its result, or the error that task
// alone raised (then `result` is empty). The error keeps its type
// (PermanentError and its subclasses), so callers answer it as they would
// the same error thrown by Enqueue.
struct EnqueueOutcome {
  EnqueueResult result;
  std::exception_ptr error;
};

struct OutboxItem {
  int64_t outbox_id = 0;
  Envelope envelope;
  // The message's priority: envelope.priority, raised by the wait when
  // FetchDispatch ages it (docs/fairness.md); the envelope keeps the
  // producer's. FetchOutbox sets it to envelope.priority.
  uint32_t publish_priority = 0;
  // Its tenant held less than its share of the queue when FetchDispatch
  // chose it (docs/fairness.md): published `ahead`. FetchOutbox: false.
  bool ahead = false;
  // Of the `ahead` ones, those the dispatcher sends to the queue's express
  // lane (ExpressLane), where a worker's express slot is free for it.
  bool express = false;
  // When the row became queued (its task's enqueue, release, retry...), in
  // Unix ms: what its wait, and so its aging, counts from. FetchDispatch
  // sets it; FetchOutbox leaves 0.
  int64_t queued_ms = 0;
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
  // Queued in a paused queue: not started, attempt unchanged, its outbox row
  // back (the relay publishes it again on resume). Ack and drop the message.
  std::vector<std::string> paused;
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

// A payload condition of the task list (`where args.account = "acme"`):
// task_filter.h parses it.
struct PayloadWhere {
  std::vector<std::string> path;  // below args: {"account"}
  bool equal = true;              // = (true) or != (false)
  std::string literal;            // a JSON scalar, as written (validated)
};

struct ListFilter {
  std::optional<TaskState> state;
  // More states, any of which matches (with `state`, if set, among them);
  // empty: `state` alone decides.
  std::vector<TaskState> states;
  std::string type;    // empty: any
  std::string queue;   // empty: any
  std::string tenant;  // empty: any
  std::optional<uint32_t> priority;
  int64_t created_after_ms = 0;   // 0: no bound; else created_at >= it
  int64_t created_before_ms = 0;  // 0: no bound; else created_at < it
  std::optional<PayloadWhere> where;
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
  bool paused = false;          // QueuePause below
  std::string paused_by;
  int64_t paused_at_ms = 0;
};

// An operator's pause of a queue: workers start none of its tasks until it
// is resumed (TaskAdminStore::PauseQueue).
struct QueuePause {
  std::string queue;
  std::string paused_by;  // who asked: "token <id>" through the API, "database <user>" from the CLI
  int64_t paused_at_ms = 0;
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
  std::string version;  // the worker's build
};

}  // namespace fila
