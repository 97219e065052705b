#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
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

// Group commit of the API's single enqueues. Callers queue their task and
// wait; `committers` threads each take whatever waits (up to `max_group`
// tasks) and commit it with one StateStore::EnqueueEach on a pooled store,
// then wake every caller with its own result. There is no added delay: a
// lone request is committed at once, and groups form from the requests
// that arrive while earlier commits are in flight. Thread-safe.
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

  // Enqueues `task` within a group; returns its result or throws the error
  // the store raised for it alone (PermanentError and its subclasses), or
  // for its whole group (TransientError). Throws QuotaExceeded when
  // max_queued requests wait already, and TransientError when `deadline`
  // passes before its group starts: its task is then never committed. Once
  // its group is committing, it waits for the group's answer, whatever the
  // deadline (the store's own timeouts bound that).
  EnqueueResult Enqueue(const NewTask& task, Deadline deadline);

  Load LoadOf(const std::string& tenant) const;

 private:
  enum class Stage { kQueued, kCommitting, kDone };
  struct Waiter {
    const NewTask* task = nullptr;
    Deadline deadline;
    Stage stage = Stage::kQueued;
    EnqueueResult result;
    std::exception_ptr error;
    std::condition_variable done;
  };

  void Loop(size_t slot);
  // Takes the next group off the queue (mutex_ held); expired waiters are
  // answered, not taken.
  std::vector<Waiter*> TakeGroup();
  void Finish(Waiter& w);  // mutex_ held

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
