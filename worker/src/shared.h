#pragma once

// State shared by the worker's threads: the consumer thread (claims, acks),
// the slot threads and their watchdog (handlers), and the finisher (commits).

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

#include "fila/blocking_queue.h"
#include "fila/broker.h"
#include "fila/envelope.h"
#include "fila/handler.h"
#include "fila/metrics.h"
#include "fila/readiness.h"
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

// A finished attempt waiting for its group commit.
struct Done {
  FinishRecord record;
  uint64_t epoch = 0;
  uint64_t tag = 0;
  // Its delivery was acked when the slot let go of it; if not (too many
  // finishes waiting for a commit), the finisher acks it after the commit.
  bool acked = false;
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
    metrics.Slots(busy, options.concurrency);
  }
  std::mutex busy_mutex;
  uint32_t busy = 0;
  // How the worker's database work went last, per part, for readiness.
  PartHealth claim_health;      // the consumer thread's claims
  PartHealth finish_health;     // the finisher's commits
  PartHealth heartbeat_health;  // the finisher's heartbeats
  // Committed finishes per queue, reported with each heartbeat (fila top).
  std::mutex stats_mutex;
  std::map<std::string, uint64_t> finished_by_queue;

  BlockingQueue<std::shared_ptr<const Job>> runnable;
  BlockingQueue<Done> done;
  // Claimed and not yet acked; the drain waits for it to reach zero.
  std::atomic<int64_t> inflight{0};
  // Finished and not yet committed; the drain waits for it too.
  std::atomic<int64_t> unrecorded{0};
  // The tasks claimed and not yet recorded, with their attempt: the
  // heartbeat extends the leases of these only (WorkerInfo::held).
  std::mutex held_mutex;
  std::unordered_map<std::string, uint32_t> held;

  // A slot let go of its job: the outcome goes to the finisher's group
  // commit, and the delivery is acked now. The claim's commit already made
  // PostgreSQL the owner of the task (running, fenced by its attempt): if
  // this process dies before the finish commits, the reaper retries the
  // task, exactly as it did when an unacked message came back and its
  // claim was refused as a duplicate. Acking here keeps the prefetch (= the
  // slots) for work that is running, not for commits in flight; beyond
  // MaxUnrecorded() waiting finishes the ack waits for the commit instead,
  // so a slow database slows the intake.
  void Finished(Done d) {
    const int64_t waiting = unrecorded.fetch_add(1);
    d.acked = waiting < MaxUnrecorded();
    if (d.acked) {
      const AckRef ref{d.epoch, d.tag};
      PostAcks({&ref, 1});
    }
    done.Push(std::move(d));
  }
  int64_t MaxUnrecorded() const { return std::max<int64_t>(256, 8 * options.concurrency); }
  // Hands acks to the consumer thread, the only one that may send them.
  // A wakeup is only needed when the list was empty: otherwise one is
  // pending already, and the consumer takes the whole list at once.
  void PostAcks(std::span<const AckRef> refs) {
    bool was_empty;
    {
      std::lock_guard lock(ack_mutex);
      was_empty = acks.empty();
      acks.insert(acks.end(), refs.begin(), refs.end());
    }
    if (!was_empty) return;
    if (Consumer* c = consumer.load()) c->Wakeup();
  }
  // Set by the watchdog when too many slots were abandoned.
  std::atomic<bool> overloaded{false};

  std::mutex ack_mutex;
  std::vector<AckRef> acks;              // to be acked by the consumer thread
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
