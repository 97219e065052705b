#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fila/core/broker.h"
#include "fila/core/handler.h"
#include "fila/core/metrics.h"
#include "fila/core/task_types.h"
#include "fila/core/worker_store.h"

namespace fila {

// fila-worker's --express-slots when none is given: a quarter of its
// slots, at least 1.
inline uint32_t DefaultExpressSlots(uint32_t concurrency) {
  return std::max<uint32_t>(1, concurrency / 4);
}

struct WorkerOptions {
  std::string worker_id;
  std::string hostname;
  std::vector<std::string> queues{"default"};
  uint32_t concurrency = 4;
  // Slots on top of `concurrency` for the queues' express lanes
  // (docs/fairness.md): a quiet tenant's task, or one aging raised, starts
  // there while the other slots are all busy. 0: no lane consumed.
  uint32_t express_slots = 0;
  uint32_t Slots() const { return concurrency + express_slots; }
  // Finishes are committed in groups: at most this long after the first one.
  std::chrono::milliseconds finish_flush{10};
  std::chrono::milliseconds heartbeat_interval{std::chrono::seconds(2)};
  // A claim's lease; heartbeats extend it while the worker lives.
  std::chrono::milliseconds lease{std::chrono::seconds(30)};
  // How often running tasks are checked for an operator's cancellation.
  std::chrono::milliseconds cancel_poll{500};
  // A handler still running this long after its deadline or its
  // cancellation is abandoned: its attempt is recorded, its slot replaced.
  std::chrono::milliseconds abandon_grace{std::chrono::seconds(5)};
  // With this many abandoned slots the worker stops consuming, drains and
  // exits with kExitAbandoned.
  uint32_t max_abandoned = 2;
  // On stop: how long in-flight tasks may take before they are handed back.
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(30)};
  // Claims failing this long (the database out of this worker's reach)
  // hand the deliveries waiting for them back to the broker, for other
  // workers, and the worker stops consuming until one of its heartbeats
  // gets through again. 0: deliveries wait for the claims.
  std::chrono::milliseconds claim_handback{std::chrono::seconds(5)};
};

struct WorkerCounters {
  std::atomic<uint64_t> claimed{0};
  std::atomic<uint64_t> finished{0};
  std::atomic<uint64_t> stale_finishes{0};  // fenced out: attempt no longer current
  std::atomic<uint64_t> duplicates{0};      // delivery whose claim found no queued row
  std::atomic<uint64_t> poison{0};          // moved to the dead-letter queue
  std::atomic<uint64_t> abandoned{0};       // handlers that ignored their deadline or cancel
  std::atomic<uint64_t> handed_back{0};     // still running when the drain budget ran out
  std::atomic<uint64_t> succeeded{0};       // committed finishes with outcome succeeded
  std::atomic<uint64_t> failed{0};          // committed finishes with any other outcome
};

// Exit codes of Run().
inline constexpr int kExitDrained = 0;
inline constexpr int kExitAbandoned = 3;

// Consumes the worker's queues and runs tasks: claim (batched, fenced by
// attempt; committed before anything runs) -> run in a slot -> ack ->
// guarded finish (group commit). Execution is at-least-once; recorded
// completion exactly once.
//
// Threads: the caller's thread owns the broker consumer and a store for
// claims; Slots() slot threads run handlers; one finisher thread owns
// a store for finishes (with the children handlers enqueued), progress and
// cancel polls; one heartbeat thread owns a third store for heartbeats
// alone, so that no burst of work delays them (each store comes from its
// own call of the factory: its own connection). Prefetch equals the slot
// count (`concurrency` for the queues, `express_slots` for their lanes, as
// Consumer::StartWithLanes), and a message is acked when its slot lets go of it: after the
// claim committed (PostgreSQL owns the task from then on: if the process
// dies, the reaper retries it) and before the finish commits, so a
// message holds a prefetch slot exactly as long as its task holds a worker
// slot. The broker never holds back more messages than there are free
// slots. Beyond a few times Slots() finishes waiting for a commit,
// acks wait for the commit (see FinishQueue::Finished in worker/src).
class WorkerRuntime final {
 public:
  using StoreFactory = std::function<std::unique_ptr<WorkerStore>()>;

  // `metrics` (default: none recorded) must outlive the runtime.
  WorkerRuntime(WorkerOptions options, StoreFactory stores, const HandlerRegistry& handlers,
                const TaskTypes& types, WorkerMetrics& metrics = NoWorkerMetrics());
  ~WorkerRuntime();

  // Consumes through `consumer` (already started; owned by the calling
  // thread from now on) until `stop` becomes true or too many slots were
  // abandoned, then stops consuming and drains: in-flight tasks get the
  // drain budget, the rest are handed back (scheduled to run again at once).
  // Returns kExitDrained or kExitAbandoned. When HasStuckThreads(), handler
  // threads are still running and the caller must end the process at once.
  int Run(std::unique_ptr<Consumer> consumer, const std::atomic<bool>& stop);
  bool HasStuckThreads() const;

  const WorkerCounters& Counters() const;

  // For readiness checks; safe from any thread.
  // Nullopt when the last claim, commit and heartbeat all worked; else
  // which failed, since when and why ("finish: failing for 3 s: ...").
  // A record the database refused for good is not a problem here: it was
  // quarantined (logged), the rest carries on.
  std::optional<std::string> DatabaseProblem() const;
  bool DatabaseOk() const { return !DatabaseProblem(); }
  std::optional<bool> BrokerConnected() const;  // nullopt: not consuming (yet, or any more)
  bool Stopping() const;                   // draining after a stop

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fila
