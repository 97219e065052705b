#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fila/core/monitor.h"
#include "fila/core/state_store.h"
#include "fila/core/task_request.h"

namespace fila::cli {

// Where the CLI's task commands go: the database directly, or the HTTP API
// (--api URL --token T). Both throw PermanentError for bad input and
// TransientError when their server is unreachable.
class Backend {
 public:
  virtual ~Backend() = default;
  // Where it points, passwords masked, for error messages.
  virtual std::string Describe() const = 0;
  // `count` tasks of `request` as the user gave it: the database backend
  // prepares it (PrepareTask) here, the API backend sends it to the server,
  // which prepares it there, once.
  virtual std::vector<EnqueueResult> Submit(const TaskRequest& request, uint32_t count) = 0;
  // Several requests (an extension's command), prepared once, the same way.
  virtual std::vector<EnqueueResult> SubmitAll(const std::vector<TaskRequest>& requests) = 0;
  virtual std::optional<TaskView> Get(const std::string& id) = 0;
  virtual std::vector<TaskView> List(const ListFilter& filter) = 0;
  virtual std::vector<QueueStateCount> Counts() = 0;
  virtual int64_t CountActive() = 0;
  virtual RequestResult Cancel(const std::string& id) = 0;
  virtual RequestResult Replay(const std::string& id) = 0;
  virtual int64_t ReplayDead(const std::string& type) = 0;
  // What `fila top` shows; workers are stale past kWorkerStaleAfterMs.
  virtual MonitorSnapshot Monitor() = 0;
  // Empty when there is no such task (or it is another tenant's).
  virtual std::vector<TaskTreeNode> Tree(const std::string& id) = 0;
  virtual ScheduleView AddSchedule(const ScheduleSpec& spec) = 0;
  virtual std::vector<ScheduleView> ListSchedules(const std::string& tenant) = 0;
  virtual bool SetSchedulePaused(const std::string& tenant, const std::string& name,
                                 bool paused) = 0;
  virtual bool DeleteSchedule(const std::string& tenant, const std::string& name) = 0;
  // Every queue with its counts and pause (a producer's token: its own).
  virtual std::vector<QueueStatusView> Queues() = 0;
  // Pauses or resumes a queue (operators: a producer's token is refused).
  virtual void SetQueuePaused(const std::string& queue, bool paused) = 0;
};

std::unique_ptr<Backend> DatabaseBackend(const std::string& database_url);
std::unique_ptr<Backend> ApiBackend(const std::string& api_url, const std::string& token);

}  // namespace fila::cli
