#pragma once

// State shared by the worker's threads: the consumer thread (claims, acks),
// the slot threads and their watchdog (handlers), and the finisher (commits).

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "fila/blocking_queue.h"
#include "fila/broker.h"
#include "fila/envelope.h"
#include "fila/handler.h"
#include "fila/metrics.h"
#include "fila/state_store.h"
#include "fila/task_types.h"
#include "fila/worker_runtime.h"

namespace fila {

// A claimed task waiting for, or running in, a slot.
struct Job {
  Envelope envelope;
  ClaimedTask claim;
  uint64_t epoch = 0;
  uint64_t tag = 0;
};

// A finished attempt waiting for its group commit, then its ack.
struct Done {
  FinishRecord record;
  uint64_t epoch = 0;
  uint64_t tag = 0;
  // For metrics and the worker's stats.
  std::string queue;
  std::string type;
  double run_seconds = 0;
};

struct AckRef {
  uint64_t epoch = 0;
  uint64_t tag = 0;
};

struct Shared {
  Shared(const WorkerOptions& o, const HandlerRegistry& h, const TaskTypes& t, WorkerMetrics& m)
      : options(o), handlers(h), types(t), metrics(m) {}

  const WorkerOptions& options;
  const HandlerRegistry& handlers;
  const TaskTypes& types;
  WorkerMetrics& metrics;
  WorkerCounters counters;
  // Slots running a handler (abandoned ones excluded), as the gauge shows
  // them: changed under the mutex so that the last value set is the count.
  void ChangeBusy(int delta) {
    std::lock_guard lock(busy_mutex);
    busy = static_cast<uint32_t>(static_cast<int>(busy) + delta);
    busy_now = busy;
    metrics.Slots(busy, options.concurrency);
  }
  std::mutex busy_mutex;
  uint32_t busy = 0;
  std::atomic<uint32_t> busy_now{0};  // the same, for lock-free reads
  // Whether the last store operation of the finisher succeeded.
  std::atomic<bool> database_ok{true};
  // Committed finishes per queue, reported with each heartbeat (fila top).
  std::mutex stats_mutex;
  std::map<std::string, uint64_t> finished_by_queue;

  BlockingQueue<std::shared_ptr<const Job>> runnable;
  BlockingQueue<Done> done;
  // Claimed and not yet acked; the drain waits for it to reach zero.
  std::atomic<int64_t> inflight{0};
  // Set by the watchdog when too many slots were abandoned.
  std::atomic<bool> overloaded{false};

  std::mutex ack_mutex;
  std::vector<AckRef> acks;              // committed, to be acked by the consumer thread
  std::atomic<Consumer*> consumer{nullptr};  // only Wakeup() from other threads

  std::mutex progress_mutex;
  std::map<std::string, ProgressUpdate> progress;  // latest per task wins
};

// The finish record of a failed attempt: retried with backoff (scheduled)
// while attempts remain and the error is retryable, else failed or dead.
FinishRecord FailedAttempt(const Shared& shared, const Job& job, Outcome outcome,
                           std::string error, std::string error_kind, bool retryable,
                           std::mt19937_64& rng);

}  // namespace fila
