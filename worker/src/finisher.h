#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "shared.h"

namespace fila {

class SlotPool;

// The thread that owns the worker's second store connection: group-commits
// finished attempts and hands their acks to the consumer thread, writes
// coalesced progress, heartbeats, and polls for operator cancellations.
class Finisher final {
 public:
  Finisher(Shared& shared, std::unique_ptr<StateStore> store, SlotPool& slots);
  ~Finisher();
  void Start();
  // Commits what is left, deregisters the worker and joins.
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
};

}  // namespace fila
