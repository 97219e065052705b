#include "backend.h"
#include "fila/config.h"
#include "fila/postgres_store.h"

namespace fila::cli {
namespace {

constexpr uint32_t kMaxTreeNodes = 10000;

class Database final : public Backend {
 public:
  explicit Database(const std::string& url) : url_(url), store_(url) {}
  std::string Describe() const override { return "database " + RedactUrl(url_); }
  std::vector<EnqueueResult> Enqueue(const std::vector<NewTask>& tasks) override {
    CheckSchema();
    return store_.Enqueue(tasks);
  }
  std::optional<TaskView> Get(const std::string& id) override { return store_.GetTask(id); }
  std::vector<TaskView> List(const ListFilter& filter) override { return store_.ListTasks(filter); }
  std::vector<QueueStateCount> Counts() override { return store_.CountByQueueAndState(); }
  int64_t CountActive() override { return store_.CountActive(); }
  RequestResult Cancel(const std::string& id) override { return store_.Cancel(id); }
  RequestResult Replay(const std::string& id) override { return store_.Replay(id); }
  int64_t ReplayDead(const std::string& type) override { return store_.ReplayDead(type); }
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
    return store_.SetSchedulePaused(tenant, name, paused);
  }
  bool DeleteSchedule(const std::string& tenant, const std::string& name) override {
    return store_.DeleteSchedule(tenant, name);
  }

 private:
  void CheckSchema() {
    if (!schema_checked_) {
      store_.RequireSchema();
      schema_checked_ = true;
    }
  }

  std::string url_;
  PostgresStore store_;
  bool schema_checked_ = false;
};

}  // namespace

std::unique_ptr<Backend> DatabaseBackend(const std::string& database_url) {
  return std::make_unique<Database>(database_url);
}

}  // namespace fila::cli
