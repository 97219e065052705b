#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fila/core/dispatch.h"
#include "fila/core/store_types.h"

namespace fila {

// What the leader scheduler's relay needs: leadership, change
// notifications, the outbox, due tasks, the reaper and cron. Errors as in
// WorkerStore.
class LeaderStore {
 public:
  virtual ~LeaderStore() = default;

  // Tries to take (or keeps) the leadership named `key`. True while held;
  // losing the store's connection loses it (the next call tries again).
  virtual bool TryLeadership(int64_t key) = 0;
  // Subscribes to change notifications on `channel` ("fila_outbox": an
  // outbox row was written, or with payload "due" a task became scheduled).
  // Stays subscribed across reconnects.
  virtual void Listen(const std::string& channel) = 0;
  // Ends the subscription to `channel`, and drops what was received of it
  // and not read yet: a subscriber that stops reading (a standby relay)
  // must not hold notifications back.
  virtual void Unlisten(const std::string& channel) = 0;
  // Waits up to `timeout` for notifications on the listened channels;
  // returns the payloads that carry one (each at most once, in arrival
  // order; repeats within one change may be folded).
  virtual std::vector<std::string> AwaitPayloads(std::chrono::milliseconds timeout) = 0;

  // Oldest outbox rows with their envelopes, for the relay, leaving out the
  // rows whose ids are in `exclude` (the relay's batches in flight). A row
  // whose task is no longer queued has an empty envelope queue: delete it
  // unpublished.
  virtual std::vector<OutboxItem> FetchOutbox(uint32_t limit,
                                              std::span<const int64_t> exclude = {}) = 0;
  virtual void DeleteOutbox(std::span<const int64_t> outbox_ids) = 0;
  // The outbox rows to publish next, in order, each with the priority to
  // publish it with: the fair dispatch of docs/fairness.md (PlanDispatch),
  // within the request's limit and room per queue, without the skipped
  // rows. Reads only the heads of the outbox's (queue, priority, tenant)
  // groups and what a pass can take, never the whole outbox.
  virtual DispatchResult FetchDispatch(const DispatchRequest& request) = 0;
  // Of `ids`, the tasks still queued or running: of the tasks the relay
  // sent to an express lane, those that may still hold a worker's express
  // slot (docs/fairness.md, rule 7). Ids of no task are left out.
  virtual std::vector<std::string> QueuedOrRunning(const std::vector<std::string>& ids) = 0;
  // Of `ids`, the queued tasks whose message was published (no outbox row
  // waits for it) get an outbox row again, and their wait restarts (as
  // RepublishStale); returns their ids. For the tasks sent to an express
  // lane that no worker consumes any more (docs/fairness.md, rule 7): the
  // relay publishes them again, to their queue or to a lane with room.
  virtual std::vector<std::string> Republish(const std::vector<std::string>& ids) = 0;

  // Reconciliation: PostgreSQL is the truth, the broker a cache that can
  // lose messages (a purge, a deleted queue, a lost node). A queued task
  // without an outbox row was published. It is "stale" when it became
  // queued (or was last republished) more than `older_than_ms` ago, its
  // outbox row is gone and no worker claimed it.
  //
  // Queues holding at least one stale task.
  virtual std::vector<std::string> QueuesWithStaleTasks(int64_t older_than_ms) = 0;
  // Queued tasks of `queue` without an outbox row: the messages its broker
  // queue should hold (ready, or delivered and about to be claimed).
  virtual int64_t CountPublished(const std::string& queue) = 0;
  // The free slots (concurrency less the tasks it runs, of any queue) of
  // the workers consuming `queue` whose last heartbeat is younger than
  // `seen_within_ms`: a worker's prefetch is its slots and a running task
  // holds its delivery until its handler returns, so at most this many of
  // the queue's messages are delivered and not yet claimed at any moment.
  virtual int64_t FreeConsumerSlots(const std::string& queue, int64_t seen_within_ms) = 0;
  // Gives up to `limit` stale tasks of `queue`, the longest queued first, an
  // outbox row, so that the relay publishes them again, and restarts their
  // wait; returns how many.
  virtual int64_t RepublishStale(const std::string& queue, int64_t older_than_ms,
                                 uint32_t limit) = 0;

  // Moves scheduled tasks whose run_at has passed to queued, with outbox
  // rows, and tasks waiting for a concurrency unit of their limit key
  // (never due by time: woken when the key frees up) whose key has room
  // that no queued or running task of it takes; returns how many. `next_due_in_ms`, when given, receives the time
  // until the next scheduled task is due (-1: none; <= 0: due now).
  virtual int64_t ReleaseDue(uint32_t limit, int64_t* next_due_in_ms = nullptr) = 0;
  // Running tasks whose worker's heartbeat is older than
  // `worker_timeout_ms` (or whose worker is gone) or whose lease expired go
  // back to queued (or dead when out of attempts, cancelled when
  // cancellation was requested), with an attempt recorded as lost.
  virtual std::vector<ReapedTask> ReapLost(uint32_t worker_timeout_ms, uint32_t limit) = 0;
  // Enqueues the due slot of every due schedule (each slot's task keyed
  // schedule:<name>:<slot ms>) and moves it to its next slot, in one
  // transaction per schedule. Slots older than `grace_ms` were missed:
  // catch-up `skip` drops them, `latest` runs the newest missed one once.
  virtual FireResult FireDueSchedules(const TaskTypes& types, int64_t grace_ms,
                                      uint32_t limit) = 0;
};

}  // namespace fila
