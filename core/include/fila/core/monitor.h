#pragma once

// What `fila top` and GET /v1/workers show: the workers, the tasks they are
// running and the queues, at one moment. Plain data, shared by the store
// that fills it, the API that serializes it and the CLI that draws it.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fila/core/metrics.h"

namespace fila {

// A worker whose heartbeat is older than this is shown as stale: the
// scheduler's default --worker-timeout-ms, past which its reaper takes the
// worker's tasks back.
inline constexpr uint32_t kWorkerStaleAfterMs = 10000;

struct RunningTaskView {
  std::string id;
  std::string type;
  std::string queue;
  uint32_t attempt = 0;
  double elapsed_seconds = 0;  // since this attempt started
  int progress = 0;            // 0..100, as last reported by the handler
  std::string progress_message;
};

struct WorkerView {
  std::string id;
  std::string hostname;
  int64_t pid = 0;
  std::vector<std::string> queues;
  uint32_t concurrency = 0;  // slots
  int64_t started_at_ms = 0;
  double heartbeat_age_seconds = 0;
  bool stale = false;  // heartbeat older than the snapshot's stale_after_seconds
  // No workers row (the worker exited, or its row is gone) while running
  // tasks still name it; only `id` and `running` are known.
  bool deregistered = false;
  // Totals of this worker process since it started (they restart at 0 with
  // the process).
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  std::map<std::string, uint64_t> finished_by_queue;
  std::vector<RunningTaskView> running;  // oldest first
  std::string version;     // the worker's build, from its heartbeats
  bool draining = false;   // an operator drained it: it takes no new task
};

struct MonitorSnapshot {
  int64_t taken_at_ms = 0;  // the database's clock
  double stale_after_seconds = kWorkerStaleAfterMs / 1000.0;
  std::vector<WorkerView> workers;  // live first, then by id
  // Stale workers silent for so long (and running nothing) that they are
  // left out of `workers`: processes that died without deregistering.
  int64_t workers_hidden = 0;
  std::vector<QueueSample> queues;  // unfinished tasks, by queue name
  int64_t outbox_rows = 0;
  double outbox_lag_seconds = 0;
};

}  // namespace fila
