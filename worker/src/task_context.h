#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <vector>

#include "fila/core/handler.h"
#include "fila/core/state_store.h"
#include "fila/core/task_types.h"

namespace fila {

// The TaskContext of one running attempt.
class SlotContext final : public TaskContext {
 public:
  using ProgressSink = std::function<void(ProgressUpdate)>;

  SlotContext(const std::string& id, const std::string& type, uint32_t attempt,
              const std::string& payload, const std::string& queue, const std::string& tenant,
              Deadline deadline, const TaskTypes& types, ProgressSink sink)
      : id_(id), type_(type), attempt_(attempt), payload_(payload), queue_(queue),
        tenant_(tenant), deadline_(deadline), types_(types), sink_(std::move(sink)) {}

  const std::string& TaskId() const override { return id_; }
  const std::string& Type() const override { return type_; }
  uint32_t Attempt() const override { return attempt_; }
  const std::string& Payload() const override { return payload_; }
  Deadline TaskDeadline() const override { return deadline_; }
  bool Cancelled() const override;
  bool SleepFor(std::chrono::milliseconds duration) override;
  void Progress(int percent, std::string_view message) override;
  const std::string& Tenant() const override { return tenant_; }
  const std::string& Queue() const override { return queue_; }
  std::string Enqueue(const TaskRequest& request) override;
  // The pieces run on the worker-wide pool (FILA_WORKER_PARALLELISM
  // threads, default 16); a ForEach from inside a piece runs inline.
  size_t ForEach(size_t count, size_t max_parallel, const std::function<void(size_t)>& piece,
                 const std::function<void(size_t)>& done = {}) override;

  // The children enqueued so far (the finish commits them).
  std::vector<NewTask> TakeChildren();

  // An operator asked to cancel this attempt (thread-safe).
  void Cancel() { cancelled_ = true; }
  bool CancelRequested() const { return cancelled_.load(); }
  bool DeadlinePassed() const { return SteadyClock::now() >= deadline_; }

 private:
  const std::string& id_;
  const std::string& type_;
  uint32_t attempt_;
  const std::string& payload_;
  const std::string& queue_;
  const std::string& tenant_;
  Deadline deadline_;
  const TaskTypes& types_;
  ProgressSink sink_;
  std::mutex children_mutex_;
  std::vector<NewTask> children_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace fila
