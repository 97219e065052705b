#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "fila/core/metrics.h"
#include "fila/core/monitor.h"
#include "fila/core/state_store.h"
#include "fila/core/uuid.h"  // IsUuid, for the store's users that had it from here

namespace fila {

// StateStore (every store role) on PostgreSQL. Owns one connection, opened on first use and
// reopened after a loss (the failing call throws TransientError; the next
// one reconnects). Statements are prepared once per connection.
// Not thread-safe: one instance per owning thread.
class PostgresStore final : public StateStore {
 public:
  explicit PostgresStore(std::string url);
  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  // Opens the connection now. TransientError when the server is unreachable.
  void Connect();
  // How often the prepared statements' plans are dropped, to be made again
  // for the tables as they are then (default 10 s; 0: never). Tests shorten it.
  void ReplanEvery(std::chrono::milliseconds interval);
  // PermanentError when the schema is older than this build needs, telling
  // the operator to run `fila migrate up`.
  void RequireSchema();

  // Session-level advisory lock `key` for leader election. True while held;
  // a lost connection releases it (the next call tries again).
  bool TryLeadership(int64_t key) override;
  // LISTENs on `channel`; re-established after every reconnect.
  void Listen(const std::string& channel) override;
  // UNLISTENs `channel`, not re-established after reconnects any more.
  void Unlisten(const std::string& channel) override;
  // Waits up to `timeout` for a notification on a listened channel.
  bool AwaitNotification(std::chrono::milliseconds timeout);
  // Waits up to `timeout` for notifications; returns their payloads (each
  // at most once, in arrival order; Postgres folds duplicates within one
  // transaction).
  std::vector<std::string> AwaitPayloads(std::chrono::milliseconds timeout) override;
  // Whether the connection was reopened since the last call (notifications
  // sent meanwhile were missed).
  bool Reconnected();

  // Live counts for the scheduler's gauges (monitor.cpp): unfinished tasks
  // per queue and state, the outbox backlog, and the workers whose
  // heartbeat is younger than `worker_timeout_ms`.
  struct Sample {
    std::vector<QueueSample> queues;
    double outbox_lag_seconds = 0;
    int64_t outbox_rows = 0;
    int64_t workers_alive = 0;
    std::map<std::string, int64_t> queued_by_tenant;  // tenants with queued tasks only
  };
  Sample SampleQueues(uint32_t worker_timeout_ms);
  // One round trip (`SELECT 1`): the database answers. Throws like any call.
  void Ping();
  // monitor.cpp: indexed reads only (never the finished tasks); the worker
  // and queue parts are two consecutive snapshots.
  MonitorSnapshot Monitor(uint32_t stale_after_ms) override;

  std::vector<EnqueueResult> Enqueue(std::span<const NewTask> tasks) override;
  std::vector<EnqueueOutcome> EnqueueEach(std::span<const NewTask> tasks) override;
  std::vector<OutboxItem> FetchOutbox(uint32_t limit,
                                      std::span<const int64_t> exclude = {}) override;
  DispatchResult FetchDispatch(const DispatchRequest& request) override;
  std::vector<std::string> QueuedOrRunning(const std::vector<std::string>& ids) override;
  std::vector<std::string> Republish(const std::vector<std::string>& ids) override;
  void DeleteOutbox(std::span<const int64_t> outbox_ids) override;
  // reconcile.cpp
  std::vector<std::string> QueuesWithStaleTasks(int64_t older_than_ms) override;
  int64_t CountPublished(const std::string& queue) override;
  int64_t FreeConsumerSlots(const std::string& queue, int64_t seen_within_ms) override;
  int64_t RepublishStale(const std::string& queue, int64_t older_than_ms,
                         uint32_t limit) override;
  int64_t ReleaseDue(uint32_t limit, int64_t* next_due_in_ms = nullptr) override;
  ClaimResult Claim(std::span<const std::string> ids, const std::string& worker,
                    uint32_t lease_ms) override;
  std::vector<bool> Finish(std::span<const FinishRecord> records) override;
  void RecordProgress(std::span<const ProgressUpdate> updates) override;
  bool Heartbeat(const WorkerInfo& worker, uint32_t lease_ms) override;
  void Deregister(const std::string& worker_id) override;
  std::vector<AttemptRef> CancelRequested(const std::string& worker_id) override;
  std::vector<ReapedTask> ReapLost(uint32_t worker_timeout_ms, uint32_t limit) override;
  RequestResult Cancel(const std::string& id) override;
  RequestResult Replay(const std::string& id) override;
  int64_t ReplayDead(const std::string& type) override;
  std::optional<TaskView> GetTask(const std::string& id) override;
  std::vector<TaskTreeNode> TaskTree(const std::string& id, uint32_t limit) override;
  ScheduleView AddSchedule(const ScheduleSpec& spec) override;
  std::vector<ScheduleView> ListSchedules(const std::string& tenant) override;
  std::optional<ScheduleView> GetSchedule(const std::string& tenant,
                                          const std::string& name) override;
  bool SetSchedulePaused(const std::string& tenant, const std::string& name,
                         bool paused) override;
  bool DeleteSchedule(const std::string& tenant, const std::string& name) override;
  FireResult FireDueSchedules(const TaskTypes& types, int64_t grace_ms, uint32_t limit) override;
  std::vector<TaskView> ListTasks(const ListFilter& filter) override;
  std::vector<QueueStateCount> CountByQueueAndState() override;
  std::vector<QueueStatusView> QueueStatuses(const std::string& tenant) override;
  bool PauseQueue(const std::string& queue, const std::string& by) override;
  bool ResumeQueue(const std::string& queue) override;
  std::vector<QueuePause> QueuePauses() override;
  bool DeleteTerminal(const std::string& id) override;
  std::pair<TokenInfo, std::string> CreateToken(const std::string& tenant,
                                                const std::string& role) override;
  std::optional<TokenInfo> Authenticate(const std::string& token) override;
  bool RevokeToken(const std::string& id) override;
  std::vector<TokenInfo> ListTokens() override;
  int64_t CountActive() override;
  // console_pg.cpp
  int64_t CountTasks(const ListFilter& filter) override;
  std::vector<ErrorGroup> ErrorGroups(const ListFilter& filter, uint32_t limit) override;
  BulkJob CreateBulkJob(const BulkJob& job, const AuditEntry& audit) override;
  std::optional<BulkJob> GetBulkJob(const std::string& id) override;
  std::vector<BulkJob> ListBulkJobs(uint32_t limit) override;
  std::optional<BulkJob> LeaseBulkJob(uint32_t lease_ms) override;
  BulkJob BulkStep(const std::string& id, const ListFilter& filter, uint32_t batch,
                   uint32_t lease_ms) override;
  void FailBulkJob(const std::string& id, const std::string& error) override;
  void AppendAudit(const AuditEntry& entry) override;
  std::vector<AuditEntry> ListAudit(uint32_t limit, int64_t before_id) override;
  bool DrainWorker(const std::string& worker_id) override;
  std::vector<StatsPoint> Stats(int64_t since_ms, uint32_t bucket_s,
                                const std::string& tenant) override;
  std::vector<QueueBacklog> Backlogs(const std::string& tenant) override;
  std::vector<QueueDetail> QueueDetails(const std::string& tenant, uint32_t stale_after_ms) override;

 private:
  // workflow.cpp: a successful finish with its children, in one transaction.
  // False when the fence did not match.
  bool FinishWithChildren(const FinishRecord& record);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fila
