#include <cstdlib>
#include <map>

#include "backend.h"
#include "commands.h"
#include "fila/core/config.h"
#include "fila/core/task_request.h"
#include "fila/core/tenant_gate.h"
#include "fila/store_postgres/postgres_store.h"
#include "fila/store_postgres/tenant_store_pg.h"

namespace fila::cli {
namespace {

constexpr uint32_t kMaxTreeNodes = 10000;

class Database final : public Backend {
 public:
  explicit Database(const std::string& url) : url_(url), store_(url) {}
  std::string Describe() const override { return "database " + RedactUrl(url_); }
  std::vector<EnqueueResult> Submit(const TaskRequest& request, uint32_t count) override {
    return Enqueue(std::vector<NewTask>(count, PrepareTask(request, enqueue_types_, TaskLimits{})));
  }
  std::vector<EnqueueResult> SubmitAll(const std::vector<TaskRequest>& requests) override {
    std::vector<NewTask> tasks;
    tasks.reserve(requests.size());
    for (const auto& r : requests) tasks.push_back(PrepareTask(r, enqueue_types_, TaskLimits{}));
    return Enqueue(tasks);
  }

  std::optional<TaskView> Get(const std::string& id) override { return store_.GetTask(id); }
  std::vector<TaskView> List(const ListFilter& filter) override { return store_.ListTasks(filter); }
  std::vector<QueueStateCount> Counts() override { return store_.CountByQueueAndState(); }
  int64_t CountActive() override { return store_.CountActive(); }
  // The database URL's holder is an operator: its actions are audited as
  // the API's are (docs/console-api.md), under the database login.
  RequestResult Cancel(const std::string& id) override {
    CheckSchema();  // the audit log needs migration 0018
    auto result = store_.Cancel(id);
    if (result.changed) Audit("task.cancel", id, 1);
    return result;
  }
  RequestResult Replay(const std::string& id) override {
    CheckSchema();
    auto result = store_.Replay(id);
    if (result.changed) Audit("task.retry", id, 1);
    return result;
  }
  int64_t ReplayDead(const std::string& type) override {
    CheckSchema();
    const int64_t n = store_.ReplayDead(type);
    Audit("task.retry_dead", type, n);
    return n;
  }
  MonitorSnapshot Monitor() override {
    CheckSchema();  // an old schema lacks the workers' totals
    return store_.Monitor(kWorkerStaleAfterMs);
  }
  std::vector<TaskTreeNode> Tree(const std::string& id) override {
    return store_.TaskTree(id, kMaxTreeNodes);
  }
  ScheduleView AddSchedule(const ScheduleSpec& spec) override {
    CheckSchema();
    return store_.AddSchedule(spec);
  }
  std::vector<ScheduleView> ListSchedules(const std::string& tenant) override {
    return store_.ListSchedules(tenant);
  }
  bool SetSchedulePaused(const std::string& tenant, const std::string& name, bool paused) override {
    CheckSchema();
    const bool found = store_.SetSchedulePaused(tenant, name, paused);
    if (found) Audit(paused ? "schedule.pause" : "schedule.resume", tenant + "/" + name, 0);
    return found;
  }
  bool DeleteSchedule(const std::string& tenant, const std::string& name) override {
    return store_.DeleteSchedule(tenant, name);
  }
  std::vector<QueueStatusView> Queues() override { return store_.QueueStatuses(""); }
  void SetQueuePaused(const std::string& queue, bool paused) override {
    CheckSchema();
    Audit(paused ? "queue.pause" : "queue.resume", queue, 0);
    if (!paused) {
      store_.ResumeQueue(queue);
      return;
    }
    // Who has the database URL is an operator; the pause records the
    // login that used it.
    const char* user = std::getenv("USER");
    store_.PauseQueue(queue, std::string("database ") + (user && *user ? user : "unknown"));
  }

 private:
  void Audit(const std::string& action, const std::string& target, int64_t count) {
    const char* user = std::getenv("USER");
    store_.AppendAudit({0, 0, std::string("database ") + (user && *user ? user : "unknown"), "operator", "",
                        action, target, "", count});
  }
  // Prepared tasks, after the tenant check an operator's enqueue still gets.
  std::vector<EnqueueResult> Enqueue(const std::vector<NewTask>& tasks) {
    CheckSchema();
    // An operator may use any queue, but a task still may name only what
    // its tenant holds (the worker would refuse it anyway).
    std::map<std::string, TenantSettings> tenants;
    for (const auto& t : tasks) {
      auto it = tenants.find(t.tenant);
      if (it == tenants.end()) it = tenants.emplace(t.tenant, TenantStore().Get(t.tenant)).first;
      CheckTenantUse(t, types_, it->second, QueueRule::kAnyQueue);
    }
    return store_.Enqueue(tasks);
  }
  void CheckSchema() {
    if (!schema_checked_) {
      store_.RequireSchema();
      schema_checked_ = true;
    }
  }

  fila::TenantStore& TenantStore() {
    if (!tenants_) tenants_ = MakePostgresTenantStore(url_, 1);
    return *tenants_;
  }

  std::string url_;
  PostgresStore store_;
  std::unique_ptr<fila::TenantStore> tenants_;
  const TaskTypes types_ = DisplayTypes();
  const TaskTypes enqueue_types_ = EnqueueTypes();  // test types only with FILA_ENABLE_TEST_TYPES
  bool schema_checked_ = false;
};

}  // namespace

std::unique_ptr<Backend> DatabaseBackend(const std::string& database_url) {
  return std::make_unique<Database>(database_url);
}

}  // namespace fila::cli
