#pragma once

#include <chrono>
#include <cstdint>
#include <set>
#include <string>

#include "fila/core/broker.h"
#include "fila/core/clock.h"
#include "fila/core/leader_store.h"
#include "fila/core/metrics.h"

namespace fila {

struct ReconcileOptions {
  // A queued task still unclaimed this long after it was published is
  // looked at again; zero turns reconciliation off.
  std::chrono::milliseconds republish_after{60000};
  // Tasks republished per pass, over every queue: a huge loss is made good
  // in bounded batches, each published before the next is chosen.
  uint32_t batch = 5000;
  std::chrono::milliseconds broker_timeout{10000};
};

// The leader's repair of a broker that lost messages (a purged or deleted
// queue, a lost node): PostgreSQL is the truth. A pass takes every queue
// with a task queued longer than `republish_after` since its publish and
// compares what PostgreSQL published (queued tasks without an outbox row)
// with what the broker queue holds ready; only the difference, the
// longest-waiting tasks first, is published again, through the outbox. A
// republished task waits `republish_after` again before it is looked at.
//
// So a backlog that is merely slow (workers busy, or none consuming yet)
// is never republished: its messages are in the broker. Tasks waiting for
// a limit key are `scheduled`, not queued, and are not looked at.
//
// The difference also counts messages delivered but not yet claimed: they
// are neither ready nor claimed, and there are at most as many as the live
// workers consuming the queue have free slots (their prefetch is their
// slots, and a running task holds its delivery until its handler returns).
// So while workers consume a queue that still holds ready messages, a
// difference up to their free slots is left alone (a long backlog would
// otherwise lose a few copies to every pass; such a small loss shows once
// the workers are busy or the queue's ready count touches zero), and a
// larger one is a loss at once: a purge under a load that never lets the
// queue drain is repaired. A queue found losing is repaired until nothing
// of it is stale, consumed or not; a copy too many is acked and dropped by
// the claim's `state = 'queued'` guard. The broker is read before
// PostgreSQL, so a message taken in between is claimed by then and in
// neither count.
//
// Runs on the relay's thread, with its store and publisher.
class Reconciler final {
 public:
  Reconciler(ReconcileOptions options, LeaderStore& store, Publisher& publisher,
             SchedulerMetrics& metrics);

  // One pass; returns when the next is due: at once while a loss larger
  // than one batch is being made good, else after half of
  // `republish_after` (never when reconciliation is off). A TransientError
  // of the store propagates; the broker's error (fila::Error) about one
  // queue does not stop the others and is thrown at the end of the pass as
  // a std::runtime_error.
  SteadyClock::time_point Pass();
  uint64_t Republished() const { return republished_; }

 private:
  // Republishes what `queue` lost, by the broker's `counts`, at most
  // `budget`; returns how many.
  uint32_t Repair(const std::string& queue, const QueueCounts& counts, uint32_t budget);

  ReconcileOptions options_;
  LeaderStore& store_;
  Publisher& publisher_;
  SchedulerMetrics& metrics_;
  std::set<std::string> repairing_;  // queues found losing, until nothing is stale
  uint64_t republished_ = 0;
};

}  // namespace fila
