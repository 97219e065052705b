#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace fila::bench {

// Eight random lowercase hex digits: fresh database and queue names.
std::string RandomSuffix();
// `url` (postgresql://...) naming database `name` instead.
std::string WithDatabaseName(const std::string& url, const std::string& name);

// "fsync=on synchronous_commit=on": durability is part of every figure, so
// the report says what the server actually runs with.
std::string DurabilitySettings(const std::string& url);

// A database of one scenario's own, created through the stack's base URL
// and dropped (WITH (FORCE)) when destroyed, so that runs never see each
// other's tasks. Creating one also runs a CHECKPOINT, so each scenario
// starts with the server's dirty pages and WAL flushed.
class ScratchDatabase final {
 public:
  // Throws BenchError when the server refuses.
  explicit ScratchDatabase(std::string base_url);
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& url() const { return url_; }
  // `fila migrate up` of the fila binary in `bin_dir`, output to `log_path`.
  void Migrate(const std::string& bin_dir, const std::string& log_path);

 private:
  std::string base_url_;
  std::string name_;
  std::string url_;
};

struct StateCounts {
  int64_t total = 0;
  int64_t succeeded = 0;
  int64_t retried = 0;   // tasks that needed more than one attempt
  std::string by_state;  // "succeeded=998 running=2", for messages
};

// Unix seconds (database clock: the same machine as fila-bench's).
struct TaskSpan {
  double first_created = 0;
  double last_created = 0;
  double first_finished = 0;
  double last_finished = 0;
};

struct Latency {
  int64_t count = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

// Read-only queries on a scenario's tasks. One connection; not thread-safe.
class TaskDb final {
 public:
  explicit TaskDb(const std::string& url);
  ~TaskDb();
  TaskDb(const TaskDb&) = delete;
  TaskDb& operator=(const TaskDb&) = delete;

  StateCounts Count(const std::string& queue);
  TaskSpan Span(const std::string& queue);
  // Enqueue -> start (started_at - created_at) of the tasks created at or
  // after `created_from` (Unix seconds).
  Latency StartLatency(const std::string& queue, double created_from);
  // Enqueue -> start of the tasks of `queue` created in [from, to) (Unix
  // seconds), only `tenant`'s when not empty, only `priority`'s when >= 0.
  // A task not started yet counts as waiting until now (so percentiles
  // over unstarted tasks are lower bounds).
  struct Wait {
    int64_t count = 0;
    int64_t started = 0;
    double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;
  };
  Wait WaitOf(const std::string& queue, const std::string& tenant, int priority, double from, double to);
  // Rows in the workers table (a worker registers once it is up).
  int64_t Workers();
  // Attempts finished by the registered workers, from their heartbeats.
  int64_t FinishedByWorkers();
  // Whether any task of `queue` is queued, scheduled, running or blocked.
  bool AnyActive(const std::string& queue);
  // Rows of a SELECT count(*) on any table (Celery's result table).
  int64_t CountRows(const std::string& sql);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fila::bench
