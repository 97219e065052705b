#pragma once

// Finished attempts on their way to the finisher's group commit, and the
// rule that decides when their deliveries are acked.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "ack_queue.h"
#include "fila/core/blocking_queue.h"
#include "fila/core/clock.h"
#include "fila/core/store_types.h"

namespace fila {

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

// Finished() from any thread (slots, the watchdog); PopAll() and Settled()
// from the finisher. Every finish is settled exactly once: recorded, or let
// go when the database refuses it for good.
class FinishQueue final {
 public:
  // Beyond this many finishes waiting for a commit, acks wait for the commit.
  static int64_t MaxUnrecordedFor(uint32_t concurrency) {
    return std::max<int64_t>(256, 8 * static_cast<int64_t>(concurrency));
  }

  FinishQueue(AckQueue& acks, int64_t max_unrecorded) : acks_(acks), max_unrecorded_(max_unrecorded) {}

  // A slot let go of its job: the outcome goes to the finisher's group
  // commit, and the delivery is acked now. The claim's commit already made
  // PostgreSQL the owner of the task (running, fenced by its attempt): if
  // this process dies before the finish commits, the reaper retries the
  // task, exactly as it did when an unacked message came back and its
  // claim was refused as a duplicate. Acking here keeps the prefetch (= the
  // slots) for work that is running, not for commits in flight; beyond
  // `max_unrecorded` waiting finishes the ack waits for the commit instead,
  // so a slow database slows the intake.
  void Finished(Done d);

  // The finishes pushed so far, waiting until `deadline` for a first one.
  std::vector<Done> PopAll(Deadline deadline) { return done_.PopAll(deadline); }
  size_t Size() const { return done_.Size(); }

  // `d` was recorded or let go: its delivery is acked now if Finished()
  // did not ack it, and it no longer counts as unrecorded.
  void Settled(const Done& d);

  // Finished and not yet settled; the drain waits for zero too.
  int64_t Unrecorded() const { return unrecorded_.load(); }

 private:
  AckQueue& acks_;
  const int64_t max_unrecorded_;
  BlockingQueue<Done> done_;
  std::atomic<int64_t> unrecorded_{0};
};

}  // namespace fila
