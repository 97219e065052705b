#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "shared.h"

namespace fila {

class SlotPool;

// The thread that owns the worker's second store connection: group-commits
// finished attempts (and hands the consumer thread the acks of those whose
// delivery was not acked yet, see Shared::Finished), writes
// coalesced progress, heartbeats, and polls for operator cancellations.
class Finisher final {
 public:
  Finisher(Shared& shared, std::unique_ptr<StateStore> store, SlotPool& slots);
  ~Finisher();
  void Start();
  // Commits what is left (retrying for at most a few seconds), deregisters
  // the worker and joins.
  void Stop();

 private:
  void Loop();
  bool CommitBatch(std::vector<Done>& batch);
  void FlushProgress();
  void PollCancellations();
  void Heartbeat();

  Shared& shared_;
  std::unique_ptr<StateStore> store_;
  SlotPool& slots_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  Deadline give_up_at_{};  // written before stop_ is set
};

}  // namespace fila
