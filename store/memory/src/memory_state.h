#pragma once

// The state of a MemoryStore and the steps its calls share. Every member
// function expects `mu` held by the caller.

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "fila/store_memory/memory_store.h"

namespace fila {

struct MemTask {
  TaskView v;  // attempts and depends_on (sorted) kept up to date
  uint32_t attempt_budget = 0;
  uint32_t retry_base_ms = 0;
  uint32_t retry_cap_ms = 0;
  LimitSpec limit;
  std::string root_id;  // empty: a root
  int64_t lease_until_ms = 0;  // 0: none
  bool limit_waiting = false;
  int64_t limit_reserved_at_ms = 0;
  // When its last outbox row was written: it became queued, or was
  // republished (PostgreSQL's updated_at of a queued task).
  int64_t outboxed_at_ms = 0;
  std::vector<std::string> dependents;  // tasks whose depends_on names this one
  std::string args_json;  // NewTask::args_json, for `where` filters
};

// Whether `t` passes `f` (everything but its keyset cursor); the states of
// `default_states` when `f` names none (memory_console.cpp).
bool MatchesFilter(const MemTask& t, const ListFilter& f, const std::vector<TaskState>& default_states = {});

struct MemWorker {
  WorkerInfo info;
  int64_t started_at_ms = 0;
  int64_t heartbeat_at_ms = 0;
  bool draining = false;  // ConsoleStore::DrainWorker
};

struct MemBulkJob {
  BulkJob job;
  std::string cursor;      // the last task id handled
  int64_t lease_until_ms = 0;
};

struct MemToken {
  TokenInfo info;
  size_t hash = 0;  // of the secret; the secret itself is not kept
};

struct MemSchedule {
  ScheduleView view;
};

struct MemoryStore::State {
  explicit State(NowMs clock) : now_ms(std::move(clock)) {}

  std::mutex mu;
  std::condition_variable wake;
  NowMs now_ms;
  bool leadership_available = true;
  bool notified = false;
  std::vector<std::string> payloads;

  std::map<std::string, MemTask> tasks;
  std::map<std::pair<std::string, std::string>, std::string> idempotency;  // (tenant, key) -> id
  std::map<int64_t, std::pair<std::string, int64_t>> outbox;  // id -> (task, created ms)
  int64_t next_outbox_id = 1;
  int64_t last_created_us = 0;
  std::map<std::string, MemWorker> workers;
  std::map<std::string, int64_t> limit_next_start;  // key -> ms
  std::map<std::pair<std::string, std::string>, MemSchedule> schedules;  // (tenant, name)
  std::vector<MemToken> tokens;
  std::map<std::string, int64_t> tenant_weights;
  std::map<std::string, QueuePause> queue_pauses;  // by queue
  std::vector<AuditEntry> audit;                    // oldest first; id = index + 1
  std::map<std::string, MemBulkJob> bulk_jobs;      // by id

  bool Paused(const std::string& queue) const { return queue_pauses.contains(queue); }
  // A queued task of a paused queue met at claim: its outbox row back
  // unless it has one (memory_queues.cpp).
  void Bounce(MemTask& t, ClaimResult& result);

  int64_t Now() const { return now_ms(); }
  MemTask* Find(const std::string& id);
  void Signal(const std::string& payload);
  void AddOutbox(const std::string& id);
  // Queued tasks of `queue` without an outbox row, stale ones only when
  // `older_than_ms` >= 0 (LeaderStore's reconciliation), longest queued first.
  std::vector<MemTask*> Published(const std::string& queue, int64_t older_than_ms);

  // Every state change goes through here, with what PostgreSQL's triggers
  // do on it: a scheduled task notifies "due", a running task of a
  // concurrency-limited key that stops queues that key's longest waiter,
  // and a task that ends settles its blocked dependents.
  void SetState(MemTask& t, TaskState to);
  // Queues up to `count` of the tasks waiting for a unit of `key`, longest
  // waiting first, with outbox rows; how many.
  size_t WakeLimitWaiters(const std::string& key, int64_t count);
  void SettleDependents(MemTask& parent);

  // Checks and inserts a batch as one transaction: nothing is written when
  // it throws. PermanentError for a bad id, a missing (or another
  // tenant's) dependency, a cycle.
  std::vector<EnqueueResult> EnqueueLocked(std::span<const NewTask> tasks);
  // Applies one finish if its fence matches.
  bool ApplyFinish(const FinishRecord& r);
  void AdmitLimited(const std::vector<std::string>& ids, const std::string& worker,
                    uint32_t lease_ms, ClaimResult& result);
  ClaimedTask Start(MemTask& t, const std::string& worker, uint32_t lease_ms);
  void ReplayLocked(MemTask& t);
  RequestResult CancelLocked(MemTask& t);
  bool DeleteTerminalLocked(const std::string& id);
};

}  // namespace fila
