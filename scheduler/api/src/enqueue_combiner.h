#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fila/core/clock.h"
#include "fila/core/metrics.h"
#include "fila/core/store_types.h"
#include "store_pool.h"

namespace fila::api {

// Group commit of the API's single enqueues. Callers hand their task over
// with a callback (no thread waits); `committers` threads each take
// whatever waits (up to `max_group` tasks) and commit it with one
// StateStore::EnqueueEach on a pooled store, then call every caller's
// callback with its own result. There
// is no added delay: a lone request is committed at once, and groups form
// from the requests that arrive while earlier commits are in flight.
// Thread-safe.
class EnqueueCombiner final {
 public:
  struct Options {
    size_t max_group = 256;
    size_t max_queued = 4096;  // waiting for a committer; past it callers get QuotaExceeded
    size_t committers = 2;
  };
  // What the backpressure weighs.
  struct Load {
    // The recent commit latency: the moving average of the group commits
    // of the last second (0 when none finished in it), or the age of a
    // commit still in flight when that is longer.
    double commit_seconds = 0;
    size_t queued = 0;            // requests waiting or being committed, all tenants
    size_t queued_of_tenant = 0;  // of the tenant asked about
    size_t tenants = 0;           // tenants with requests waiting or being committed
  };

  // `stores` and `metrics` must outlive the combiner.
  EnqueueCombiner(StorePool& stores, Options options, SchedulerMetrics& metrics);
  // Commits what is still queued, then joins the committers.
  ~EnqueueCombiner();
  EnqueueCombiner(const EnqueueCombiner&) = delete;
  EnqueueCombiner& operator=(const EnqueueCombiner&) = delete;

  // The task's outcome: its result, or the error the store raised for it
  // alone (PermanentError and its subclasses) or for its whole group
  // (TransientError).
  using Callback = std::function<void(const NewTask& task, const EnqueueResult& result, std::exception_ptr error)>;
  // Queues `task` for a group commit; no thread waits for it. `done` is
  // called once, never with the combiner's lock held: on a committer's
  // thread with the outcome, or on this one's with QuotaExceeded (max_queued
  // requests wait already) or TransientError (stopping). A task still
  // queued past `deadline` is never committed: it is answered TransientError
  // when a committer next takes a group or another task arrives. Once its
  // group is committing, it gets the group's answer, whatever the deadline
  // (the store's own timeouts bound that).
  void EnqueueAsync(NewTask task, Deadline deadline, Callback done);
  // EnqueueAsync, waited for: returns the result or throws the error.
  EnqueueResult Enqueue(const NewTask& task, Deadline deadline);

  Load LoadOf(const std::string& tenant) const;

 private:
  struct Waiter {
    NewTask task;
    Deadline deadline;
    Callback callback;
    EnqueueResult result;
    std::exception_ptr error;
  };
  // Waiters answered, their callbacks to call once the lock is let go.
  using Answered = std::vector<Waiter*>;

  void Loop(size_t slot);
  // Takes the next group off the queue (mutex_ held); expired waiters are
  // answered, not taken.
  std::vector<Waiter*> TakeGroup(Answered& answered);
  void Finish(Waiter& w);  // mutex_ held
  // Finish, and keep the waiter for its callback (mutex_ held).
  void Answer(Waiter& w, Answered& answered);
  // Answers the queued waiters past their deadline (mutex_ held).
  void AnswerExpired(Answered& answered);
  static void CallBack(Answered& answered);  // mutex_ not held

  StorePool& stores_;
  const Options options_;
  SchedulerMetrics& metrics_;

  mutable std::mutex mutex_;
  std::condition_variable work_;
  std::deque<Waiter*> queue_;
  std::map<std::string, size_t> per_tenant_;  // waiting or committing
  size_t pending_ = 0;
  double average_seconds_ = 0;
  SteadyClock::time_point last_commit_{};
  std::vector<std::optional<SteadyClock::time_point>> in_flight_;  // by committer
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace fila::api
