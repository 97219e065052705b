#pragma once

// A TaskContext for handler tests: a payload, a deadline, a cancel flag,
// the progress and children it was given, and a sleep that is real
// (cancellable) or fake (recorded, returns at once). Thread-safe.

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "fila/core/handler.h"

namespace fila::test {

// Not final: a test may subclass it to set its own defaults.
class FakeTaskContext : public TaskContext {
 public:
  explicit FakeTaskContext(std::string payload = "{}",
                           std::chrono::milliseconds budget = std::chrono::seconds(30));

  // What the handler sees; set them before it runs.
  std::string task_id = "00000000-0000-0000-0000-000000000001";
  std::string type = "test.task";
  std::string tenant = "default";
  std::string queue = "default";
  uint32_t attempt = 1;
  // Set to cancel; Cancelled() is also true past the deadline.
  std::atomic<bool> cancel{false};
  // true: SleepFor records the wait and returns at once (!Cancelled()).
  bool fake_sleep = false;
  // Called after each Progress (from the thread that reported it).
  std::function<void()> on_progress;

  const std::string& TaskId() const override { return task_id; }
  const std::string& Type() const override { return type; }
  uint32_t Attempt() const override { return attempt; }
  const std::string& Payload() const override { return payload_; }
  const std::string& Tenant() const override { return tenant; }
  const std::string& Queue() const override { return queue; }
  Deadline TaskDeadline() const override;
  bool Cancelled() const override;
  bool SleepFor(std::chrono::milliseconds duration) override;
  void Progress(int percent, std::string_view message) override;
  std::string Enqueue(const TaskRequest& request) override;  // returns "child-<n>"

  // Moves the deadline to now + `left`.
  void ExpireIn(std::chrono::milliseconds left);
  std::vector<std::pair<int, std::string>> progress() const;
  int last_progress() const;  // -1 before any
  std::vector<TaskRequest> children() const;
  std::vector<std::chrono::milliseconds> sleeps() const;

 private:
  std::string payload_;
  mutable std::mutex mutex_;
  Deadline deadline_;
  std::vector<std::pair<int, std::string>> progress_;
  std::vector<TaskRequest> children_;
  std::vector<std::chrono::milliseconds> sleeps_;
};

}  // namespace fila::test
