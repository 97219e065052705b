#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fila/core/broker.h"
#include "fila/core/clock.h"
#include "fila/core/leader_store.h"
#include "fila/core/metrics.h"
#include "fila/core/readiness.h"
#include "fila/core/task_types.h"
#include "fila/scheduler/dispatcher.h"
#include "fila/scheduler/reconciler.h"

namespace fila {

struct RelayOptions {
  uint32_t batch = 500;
  // Safety net: the outbox is swept this often even without a notification.
  std::chrono::milliseconds sweep_interval{1000};
  // How often a follower asks for the leader lock.
  std::chrono::milliseconds leader_retry{2000};
  std::chrono::milliseconds publish_timeout{10000};
  // Batches published and not yet confirmed at once (1: publish, wait for
  // the confirms, delete, then the next batch).
  uint32_t in_flight = 4;
  // A worker whose heartbeat is older than this is dead: its running tasks
  // are retried. Several heartbeat intervals, so a slow beat is not a death.
  std::chrono::milliseconds worker_timeout{10000};
  std::chrono::milliseconds reap_interval{1000};
  // A cron slot later than this is missed: its schedule's catch-up policy
  // decides whether it runs.
  std::chrono::milliseconds cron_grace{60000};
  // A queued task still unclaimed this long after its publish is published
  // again if its broker queue lacks it (Reconciler); zero: never.
  std::chrono::milliseconds republish_after{60000};
  // The dispatch window and priority aging (docs/fairness.md).
  DispatchOptions dispatch;
  // Test hook: "relay.before_publish" / "relay.after_publish" make the
  // process kill itself (SIGKILL) at that point of the first batch.
  std::string failpoint;
};

// The leader-only loop of fila-scheduler: publishes outbox rows with
// confirms and deletes them once confirmed (up to `in_flight` batches
// published and unconfirmed at once: while the broker confirms some, the
// next is fetched and sent), moves due scheduled tasks back
// to queued, and reaps the running tasks of lost workers and expired
// leases. Woken by LISTEN/NOTIFY; sweeps periodically as a safety net. Also
// fires due cron slots, and republishes what the broker lost (Reconciler)
// whenever the outbox is caught up. Leadership is the store's (on
// PostgreSQL a session advisory lock on its connection), so any number of
// schedulers may run: one relays.
// Runs on the calling thread, which owns `store` and `publisher`.
class Relay final {
 public:
  Relay(RelayOptions options, LeaderStore& store, Publisher& publisher, const TaskTypes& types,
        SchedulerMetrics& metrics = NoSchedulerMetrics());
  // Every error is caught, logged and retried with backoff; none ends the
  // loop. A step that fails for good (the database refuses it) is retried
  // at its next turn while the other steps carry on.
  void Run(const std::atomic<bool>& stop);
  // Thread-safe, for readiness: nullopt when the last pass of every step
  // worked, else the failing steps, since when and why
  // ("reap: failing for 12 s: ...").
  std::optional<std::string> Problem() const;
  uint64_t Published() const { return published_; }
  uint64_t Reaped() const { return reaped_; }
  uint64_t Fired() const { return fired_; }
  uint64_t Republished() const { return reconciler_.Republished(); }

 private:
  // One pass of the publishing pipeline: collects confirms (waiting for one
  // when the pipeline is full, or when the outbox had no more and batches
  // are in flight), deletes the rows of confirmed batches, then sends the
  // next batch if there is room. Returns the outbox rows fetched. Throws
  // TransientError when a batch failed (its rows stay, to be fetched again).
  size_t PublishBatch();
  // Which outbox rows go out next, leaving out those in flight.
  std::vector<OutboxItem> NextBatch(std::span<const int64_t> exclude);
  // Reads the outcomes of batches in flight, waiting up to `deadline` for
  // one; returns the first failure's reason, if any.
  std::optional<std::string> CollectConfirms(Deadline deadline);
  // Deletes the rows of confirmed batches.
  void DeleteConfirmed();
  // Sends the next batch, if the outbox has one; returns the rows fetched.
  size_t SendNext();
  // Outbox ids in flight or confirmed and not deleted yet.
  std::vector<int64_t> Unfinished() const;
  void ReportInFlight();
  void Reap();
  // Sleeps until `wake` or a notification worth a pass: "due" (a task
  // became scheduled, maybe earlier than the next release: sets
  // `next_release` to now), a bare one, or outbox rows the dispatcher
  // wants now (Dispatcher::Wanted).
  void AwaitWake(SteadyClock::time_point wake, SteadyClock::time_point& next_release);
  // Moves due tasks to queued; returns when to look again.
  SteadyClock::time_point ReleaseDue();
  // Fires due cron slots; returns when to look again.
  SteadyClock::time_point FireSchedules();
  // When the reaper may run again after the relay became leader or reached
  // the database again: a worker timeout from now (logged with `why`).
  // After an outage nothing is judged lost before every worker had one
  // worker timeout to heartbeat again.
  SteadyClock::time_point HoldReaping(const char* why);
  // Runs one step (`next` returns when to run it again). A TransientError
  // propagates (the connection or the database is away: the whole pass
  // backs off); any other error is the step's own: logged, recorded in
  // `health`, and the step is tried again after a backoff.
  template <typename Next>
  SteadyClock::time_point Step(const char* name, PartHealth& health, int& failures, Next&& next);

  RelayOptions options_;
  LeaderStore& store_;
  Publisher& publisher_;
  const TaskTypes& types_;
  SchedulerMetrics& metrics_;
  PartHealth loop_health_;  // the pass as a whole: leadership, connection
  PartHealth release_health_;
  PartHealth cron_health_;
  PartHealth reap_health_;
  PartHealth publish_health_;
  PartHealth reconcile_health_;
  Reconciler reconciler_;
  Dispatcher dispatcher_;
  struct Batch {
    uint64_t ticket = 0;
    std::vector<int64_t> outbox_ids;
    size_t messages = 0;
    std::vector<SentTask> tasks;  // for the dispatch window's count
  };
  std::vector<Batch> in_flight_;        // sent, outcome not known yet
  std::vector<int64_t> to_delete_;      // rows of confirmed batches
  bool outbox_short_ = true;            // the last fetch found less than a batch
  uint64_t published_ = 0;
  uint64_t reaped_ = 0;
  uint64_t fired_ = 0;
};

// The advisory lock key all schedulers contend for.
inline constexpr int64_t kLeaderLockKey = 0x66696c616c6472;  // "filaldr"

}  // namespace fila
