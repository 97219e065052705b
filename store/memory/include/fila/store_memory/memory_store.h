#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fila/core/clock.h"
#include "fila/core/state_store.h"

namespace fila {

// Every store role (StateStore) in process memory, with the semantics of
// PostgresStore: fenced claims and finishes, idempotency keys per tenant,
// the outbox, due-task release, the reaper, cancel and replay,
// dependencies, children committed with their parent's finish, per-key
// limits, cron schedules, tokens and the monitor view.
//
// FOR UNIT TESTS AND `fila` DEVELOPMENT ONLY, not production: nothing is
// durable, nothing is shared with another process, and every call holds one
// lock over the whole state.
//
// Thread-safe: one instance may be shared by every thread of a test (the
// relay, a worker's claim and finish threads, the API). Never throws
// TransientError (there is no connection to lose); bad input throws
// PermanentError as PostgresStore does.
//
// Time comes from `now_ms` (Unix ms), so a test can move time by hand;
// only AwaitPayloads waits in real time.
class MemoryStore final : public StateStore {
 public:
  using NowMs = std::function<int64_t()>;
  explicit MemoryStore(NowMs now_ms = NowUnixMs);
  ~MemoryStore() override;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  // Test hook: whether TryLeadership succeeds (true at first). Leadership
  // is one flag of this store, not per caller: two relays on one
  // MemoryStore would both lead.
  void SetLeadershipAvailable(bool available);
  // Test hook: wakes AwaitPayloads with `payload` ("" wakes without one).
  void Notify(const std::string& payload);
  // Test hook: a tenant's weight for FetchDispatch (PostgreSQL's
  // tenants.weight, set by operators); unset: 1.
  void SetTenantWeight(const std::string& tenant, int64_t weight);

  // LeaderStore
  bool TryLeadership(int64_t key) override;
  void Listen(const std::string& channel) override;
  void Unlisten(const std::string& channel) override;
  std::vector<std::string> AwaitPayloads(std::chrono::milliseconds timeout) override;
  std::vector<OutboxItem> FetchOutbox(uint32_t limit,
                                      std::span<const int64_t> exclude = {}) override;
  DispatchResult FetchDispatch(const DispatchRequest& request) override;
  std::vector<std::string> QueuedOrRunning(const std::vector<std::string>& ids) override;
  std::vector<std::string> Republish(const std::vector<std::string>& ids) override;
  void DeleteOutbox(std::span<const int64_t> outbox_ids) override;
  std::vector<std::string> QueuesWithStaleTasks(int64_t older_than_ms) override;
  int64_t CountPublished(const std::string& queue) override;
  int64_t FreeConsumerSlots(const std::string& queue, int64_t seen_within_ms) override;
  int64_t RepublishStale(const std::string& queue, int64_t older_than_ms,
                         uint32_t limit) override;
  int64_t ReleaseDue(uint32_t limit, int64_t* next_due_in_ms = nullptr) override;
  std::vector<ReapedTask> ReapLost(uint32_t worker_timeout_ms, uint32_t limit) override;
  FireResult FireDueSchedules(const TaskTypes& types, int64_t grace_ms, uint32_t limit) override;

  // WorkerStore
  ClaimResult Claim(std::span<const std::string> ids, const std::string& worker,
                    uint32_t lease_ms) override;
  std::vector<bool> Finish(std::span<const FinishRecord> records) override;
  void RecordProgress(std::span<const ProgressUpdate> updates) override;
  bool Heartbeat(const WorkerInfo& worker, uint32_t lease_ms) override;
  void Deregister(const std::string& worker_id) override;
  std::vector<AttemptRef> CancelRequested(const std::string& worker_id) override;

  // TaskAdminStore
  std::vector<EnqueueResult> Enqueue(std::span<const NewTask> tasks) override;
  std::vector<EnqueueOutcome> EnqueueEach(std::span<const NewTask> tasks) override;
  RequestResult Cancel(const std::string& id) override;
  RequestResult Replay(const std::string& id) override;
  int64_t ReplayDead(const std::string& type) override;
  std::optional<TaskView> GetTask(const std::string& id) override;
  std::vector<TaskTreeNode> TaskTree(const std::string& id, uint32_t limit) override;
  std::vector<TaskView> ListTasks(const ListFilter& filter) override;
  bool DeleteTerminal(const std::string& id) override;
  ScheduleView AddSchedule(const ScheduleSpec& spec) override;
  std::vector<ScheduleView> ListSchedules(const std::string& tenant) override;
  std::optional<ScheduleView> GetSchedule(const std::string& tenant,
                                          const std::string& name) override;
  bool SetSchedulePaused(const std::string& tenant, const std::string& name,
                         bool paused) override;
  bool DeleteSchedule(const std::string& tenant, const std::string& name) override;
  std::vector<QueueStateCount> CountByQueueAndState() override;
  std::vector<QueueStatusView> QueueStatuses(const std::string& tenant) override;
  bool PauseQueue(const std::string& queue, const std::string& by) override;
  bool ResumeQueue(const std::string& queue) override;
  std::vector<QueuePause> QueuePauses() override;
  int64_t CountActive() override;

  // TokenStore
  std::pair<TokenInfo, std::string> CreateToken(const std::string& tenant,
                                                const std::string& role) override;
  std::optional<TokenInfo> Authenticate(const std::string& token) override;
  bool RevokeToken(const std::string& id) override;
  std::vector<TokenInfo> ListTokens() override;

  // MonitorStore
  MonitorSnapshot Monitor(uint32_t stale_after_ms) override;

  // ConsoleStore (memory_console.cpp)
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

  struct State;  // memory_state.h

 private:
  std::unique_ptr<State> state_;
};

}  // namespace fila
