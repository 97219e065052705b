#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <span>
#include <thread>

#include "ack_queue.h"
#include "fila/core/errors.h"
#include "fila/core/metrics.h"
#include "fila/core/readiness.h"
#include "fila/core/worker_store.h"
#include "fila/worker/worker_runtime.h"
#include "finish_queue.h"
#include "finish_tally.h"
#include "held_attempts.h"
#include "progress_buffer.h"

namespace fila {

class SlotPool;

// What the finisher works with; every part must outlive it.
struct FinisherParts {
  const WorkerOptions& options;
  FinishQueue& finishes;     // taken, committed, settled
  HeldAttempts& held;        // released once recorded (the heartbeats stop renewing their leases)
  ProgressBuffer& progress;  // taken and written
  const AckQueue& acks;      // its unacked count: cancellations are polled only while > 0
  SlotPool& slots;           // told of operator cancellations
  WorkerCounters& counters;  // finished, stale, succeeded, failed
  FinishTally& finished;     // committed finishes per queue
  WorkerMetrics& metrics;
  PartHealth& finish_health;
};

// The thread that owns the worker's second store connection: group-commits
// finished attempts with the children their handlers enqueued (and hands
// the consumer thread the acks of those whose delivery was not acked yet,
// see FinishQueue::Finished), writes coalesced progress, and polls for
// operator cancellations. Heartbeats are not its: a long commit must not
// hold them back (Heartbeater).
class Finisher final {
 public:
  Finisher(FinisherParts parts, std::unique_ptr<WorkerStore> store);
  ~Finisher();
  void Start();
  // Commits what is left (retrying for at most a few seconds) and joins.
  void Stop();

 private:
  void Loop();
  // One pass of Loop(); false when the batch could not be committed.
  bool Pass(std::vector<Done>& batch);
  // Commits `batch`; what was committed leaves it. A record the database
  // refuses for good is quarantined (Quarantine), the rest commit. False
  // when the database is away: what is left is retried.
  bool CommitBatch(std::vector<Done>& batch);
  // Accounts for committed finishes: metrics, held tasks, late acks.
  void Recorded(std::span<Done> part, const std::vector<bool>& applied);
  // A finish the database refuses: recorded instead as a failed attempt
  // with the refusal as its error (no result, no children); when even that
  // is refused, logged and let go (Release).
  void Quarantine(Done& done, const PermanentError& refusal);
  // Stops holding a finish that will never be recorded: its lease is no
  // longer extended, so the reaper takes the task back when it runs out.
  void Release(const Done& done);
  void FlushProgress();
  void PollCancellations();

  FinisherParts parts_;
  std::unique_ptr<WorkerStore> store_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  Deadline give_up_at_{};  // written before stop_ is set
  // When Pass() next writes progress, polls for cancellations.
  Deadline next_progress_{};
  Deadline next_cancel_poll_{};
};

}  // namespace fila
