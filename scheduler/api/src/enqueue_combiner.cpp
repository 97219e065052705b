#include "enqueue_combiner.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "fila/core/errors.h"
#include "fila/core/tenant_gate.h"

namespace fila::api {
namespace {

// How long a committer waits for a pooled store (as a request would).
constexpr auto kStoreWait = std::chrono::seconds(2);
// Weight of the newest commit in the moving average of commit latency.
constexpr double kAverageWeight = 0.3;
// Commits older than this no longer count as recent.
constexpr auto kRecent = std::chrono::seconds(1);

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

EnqueueCombiner::EnqueueCombiner(StorePool& stores, Options options, SchedulerMetrics& metrics)
    : stores_(stores), options_(options), metrics_(metrics) {
  const size_t committers = std::max<size_t>(options_.committers, 1);
  in_flight_.resize(committers);
  for (size_t i = 0; i < committers; ++i) threads_.emplace_back([this, i] { Loop(i); });
}

EnqueueCombiner::~EnqueueCombiner() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  work_.notify_all();
  for (auto& t : threads_) t.join();
}

EnqueueResult EnqueueCombiner::Enqueue(const NewTask& task, Deadline deadline) {
  Waiter w;
  w.task = &task;
  w.deadline = deadline;
  std::unique_lock lock(mutex_);
  if (stop_) throw TransientError("the API is stopping");
  if (queue_.size() >= std::max<size_t>(options_.max_queued, 1)) {
    lock.unlock();
    metrics_.Backpressure("queue_full");
    throw QuotaExceeded("too many enqueues wait for the database; retry later", 1);
  }
  queue_.push_back(&w);
  ++per_tenant_[task.tenant];
  ++pending_;
  work_.notify_one();
  while (w.stage == Stage::kQueued) {
    if (w.done.wait_until(lock, deadline) == std::cv_status::timeout && w.stage == Stage::kQueued) {
      // Not taken yet: it leaves the queue and is never committed.
      queue_.erase(std::find(queue_.begin(), queue_.end(), &w));
      Finish(w);
      throw TransientError("the enqueue waited too long for a database commit");
    }
  }
  w.done.wait(lock, [&] { return w.stage == Stage::kDone; });
  if (w.error) std::rethrow_exception(w.error);
  return w.result;
}

void EnqueueCombiner::Finish(Waiter& w) {
  w.stage = Stage::kDone;
  if (auto it = per_tenant_.find(w.task->tenant); it != per_tenant_.end() && --it->second == 0) {
    per_tenant_.erase(it);
  }
  --pending_;
}

std::vector<EnqueueCombiner::Waiter*> EnqueueCombiner::TakeGroup() {
  std::vector<Waiter*> group;
  const auto now = SteadyClock::now();
  while (!queue_.empty() && group.size() < std::max<size_t>(options_.max_group, 1)) {
    Waiter* w = queue_.front();
    queue_.pop_front();
    if (w->deadline <= now) {
      w->error = std::make_exception_ptr(
          TransientError("the enqueue waited too long for a database commit"));
      Finish(*w);
      w->done.notify_one();
      continue;
    }
    w->stage = Stage::kCommitting;
    group.push_back(w);
  }
  return group;
}

void EnqueueCombiner::Loop(size_t slot) {
  std::unique_lock lock(mutex_);
  for (;;) {
    work_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to commit
    std::vector<Waiter*> group = TakeGroup();
    if (group.empty()) continue;
    const auto started = SteadyClock::now();
    in_flight_[slot] = started;
    lock.unlock();
    // Another committer may take what arrives meanwhile.
    work_.notify_one();

    std::vector<NewTask> tasks;
    tasks.reserve(group.size());
    for (Waiter* w : group) tasks.push_back(*w->task);
    std::vector<EnqueueOutcome> outcomes;
    std::exception_ptr group_error;
    try {
      auto store = stores_.Acquire(SteadyClock::now() + kStoreWait);
      outcomes = store->EnqueueEach(tasks);
      if (outcomes.size() != tasks.size()) {
        throw std::logic_error("the store answered " + std::to_string(outcomes.size()) +
                               " outcomes for " + std::to_string(tasks.size()) + " tasks");
      }
    } catch (...) {
      group_error = std::current_exception();
    }
    const auto finished = SteadyClock::now();
    const double seconds = Seconds(finished - started);
    metrics_.EnqueueGroup(group.size(), seconds);

    lock.lock();
    in_flight_[slot].reset();
    const bool recent = last_commit_ != SteadyClock::time_point{} && finished - last_commit_ < kRecent;
    average_seconds_ = recent ? kAverageWeight * seconds + (1 - kAverageWeight) * average_seconds_
                              : seconds;
    last_commit_ = finished;
    for (size_t i = 0; i < group.size(); ++i) {
      Waiter& w = *group[i];
      if (group_error) {
        w.error = group_error;
      } else {
        w.result = outcomes[i].result;
        w.error = outcomes[i].error;
      }
      Finish(w);
      w.done.notify_one();
    }
  }
}

EnqueueCombiner::Load EnqueueCombiner::LoadOf(const std::string& tenant) const {
  std::lock_guard lock(mutex_);
  Load load;
  const auto now = SteadyClock::now();
  if (last_commit_ != SteadyClock::time_point{} && now - last_commit_ < kRecent) {
    load.commit_seconds = average_seconds_;
  }
  for (const auto& started : in_flight_) {
    if (started) load.commit_seconds = std::max(load.commit_seconds, Seconds(now - *started));
  }
  load.queued = pending_;
  load.tenants = per_tenant_.size();
  if (auto it = per_tenant_.find(tenant); it != per_tenant_.end()) load.queued_of_tenant = it->second;
  return load;
}

}  // namespace fila::api
