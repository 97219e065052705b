#pragma once

// What the console's routes read and do beyond the task list
// (docs/console-api.md): dead and failed tasks grouped by error, bulk jobs,
// the audit log, worker drains, statistics over time. Errors as in
// WorkerStore. Tenant scoping is the caller's: a filter's tenant is used as
// given ("" = every tenant).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fila/core/store_types.h"

namespace fila {

struct ErrorGroup {
  std::string error;
  int64_t count = 0;
  std::string sample_task_id;  // the group's most recently finished task
  int64_t last_at_ms = 0;      // when that task finished
};

enum class BulkAction { kRetry, kCancel, kDelete };
std::string_view ToString(BulkAction action);
std::optional<BulkAction> ParseBulkAction(std::string_view text);

struct BulkJob {
  std::string id;
  std::string name;
  BulkAction action = BulkAction::kRetry;
  std::string filter_json;  // the filter as the caller gave it (JSON text)
  std::string state = "running";  // running | done | failed
  int64_t total = 0;    // matching tasks when the job was created
  int64_t done = 0;     // tasks the action changed
  int64_t skipped = 0;  // matching tasks it did not apply to (no longer in a state it applies to)
  int64_t failed = 0;   // tasks the database refused
  std::string error;    // why the job failed
  std::string created_by;
  int64_t created_at_ms = 0;
  int64_t finished_at_ms = 0;
};

struct AuditEntry {
  int64_t id = 0;
  int64_t at_ms = 0;
  std::string who;     // "token <id>" or "database <user>"
  std::string role;    // operator | producer
  std::string tenant;  // the caller's tenant
  std::string action;  // e.g. bulk.retry, queue.pause, task.cancel, worker.drain
  std::string target;  // a task id, queue, worker, schedule or bulk job id
  std::string filter;  // JSON text of the filter, or ""
  int64_t count = 0;   // tasks it concerned
};

// One bucket of one (queue, type) in Stats: tasks that finished in it.
struct StatsPoint {
  std::string queue;
  std::string type;
  int64_t bucket_start_ms = 0;
  int64_t finished = 0;  // every terminal outcome
  int64_t failed = 0;    // failed or dead
  double wait_p50_ms = 0, wait_p95_ms = 0;  // run_at -> started_at of the last attempt
  double run_p50_ms = 0, run_p95_ms = 0;    // started_at -> finished_at
};

struct QueueBacklog {
  std::string queue;
  int64_t backlog = 0;       // queued + scheduled + blocked
  double oldest_age_s = 0;   // the oldest queued task's wait (since run_at)
};

// The console's per-queue extras (GET /v1/queues).
struct QueueDetail {
  std::string queue;
  std::map<uint32_t, int64_t> by_priority;  // unfinished tasks (queued, scheduled, running, blocked)
  int64_t consumers = 0;    // live, not draining workers consuming it
  double rate = 0;          // finished per second over the last minute
};

class ConsoleStore {
 public:
  virtual ~ConsoleStore() = default;

  // How many tasks match (the bulk dry run).
  virtual int64_t CountTasks(const ListFilter& filter) = 0;
  // Tasks of the filter (its states: failed and dead when none is given)
  // grouped by last_error, largest groups first, at most `limit` groups.
  virtual std::vector<ErrorGroup> ErrorGroups(const ListFilter& filter, uint32_t limit) = 0;

  // Creates a running job with `total` and appends `audit` in the same
  // transaction; returns the job (id and created_at filled).
  virtual BulkJob CreateBulkJob(const BulkJob& job, const AuditEntry& audit) = 0;
  virtual std::optional<BulkJob> GetBulkJob(const std::string& id) = 0;
  virtual std::vector<BulkJob> ListBulkJobs(uint32_t limit) = 0;
  // A running job no runner holds (its lease expired or never taken),
  // now leased for `lease_ms`; nullopt when none.
  virtual std::optional<BulkJob> LeaseBulkJob(uint32_t lease_ms) = 0;
  // One batch of job `id`, in one transaction: the next `batch` tasks
  // matching `filter` after the job's cursor (by id) get the job's action,
  // the counters and the cursor advance and the lease is renewed; a short
  // batch ends the job (done). Returns the job afterwards. A job that is no
  // longer running is returned unchanged.
  virtual BulkJob BulkStep(const std::string& id, const ListFilter& filter, uint32_t batch,
                           uint32_t lease_ms) = 0;
  virtual void FailBulkJob(const std::string& id, const std::string& error) = 0;

  virtual void AppendAudit(const AuditEntry& entry) = 0;
  // Newest first; entries with id < before_id when before_id > 0.
  virtual std::vector<AuditEntry> ListAudit(uint32_t limit, int64_t before_id) = 0;

  // Flags the worker draining; false when there is no such worker.
  virtual bool DrainWorker(const std::string& worker_id) = 0;

  // Tasks that finished since `since_ms`, per queue, type and bucket of
  // `bucket_s` seconds (oldest first); tenant "" = all.
  virtual std::vector<StatsPoint> Stats(int64_t since_ms, uint32_t bucket_s,
                                        const std::string& tenant) = 0;
  virtual std::vector<QueueBacklog> Backlogs(const std::string& tenant) = 0;
  virtual std::vector<QueueDetail> QueueDetails(const std::string& tenant,
                                                uint32_t stale_after_ms) = 0;
};

}  // namespace fila
