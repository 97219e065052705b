#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <span>
#include <thread>

#include "fila/errors.h"
#include "shared.h"

namespace fila {

class SlotPool;

// The thread that owns the worker's second store connection: group-commits
// finished attempts (and hands the consumer thread the acks of those whose
// delivery was not acked yet, see Shared::Finished), writes
// coalesced progress, heartbeats, and polls for operator cancellations.
class Finisher final {
 public:
  Finisher(Shared& shared, std::unique_ptr<WorkerStore> store, SlotPool& slots);
  ~Finisher();
  void Start();
  // Commits what is left (retrying for at most a few seconds), deregisters
  // the worker and joins.
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
  void Heartbeat();

  Shared& shared_;
  std::unique_ptr<WorkerStore> store_;
  SlotPool& slots_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  Deadline give_up_at_{};  // written before stop_ is set
  // When Pass() next writes progress, polls for cancellations, heartbeats.
  Deadline next_progress_{};
  Deadline next_cancel_poll_{};
  Deadline next_heartbeat_{};
};

}  // namespace fila
