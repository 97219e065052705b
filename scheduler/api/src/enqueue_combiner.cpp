#include "enqueue_combiner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <memory>

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

void EnqueueCombiner::EnqueueAsync(NewTask task, Deadline deadline, Callback done) {
  auto w = std::make_unique<Waiter>(Waiter{std::move(task), deadline, std::move(done), {}, nullptr});
  Answered answered;
  {
    std::unique_lock lock(mutex_);
    AnswerExpired(answered);
    if (stop_) {
      w->error = std::make_exception_ptr(TransientError("the API is stopping"));
    } else if (queue_.size() >= std::max<size_t>(options_.max_queued, 1)) {
      metrics_.Backpressure("queue_full");
      w->error = std::make_exception_ptr(
          QuotaExceeded("too many enqueues wait for the database; retry later", 1));
    } else {
      queue_.push_back(w.get());
      ++per_tenant_[w->task.tenant];
      ++pending_;
      work_.notify_one();
      w.release();  // the combiner's until answered
    }
  }
  CallBack(answered);
  if (w) w->callback(w->task, w->result, w->error);  // refused: never queued
}

EnqueueResult EnqueueCombiner::Enqueue(const NewTask& task, Deadline deadline) {
  std::promise<EnqueueResult> outcome;
  EnqueueAsync(task, deadline, [&outcome](const NewTask&, const EnqueueResult& result, std::exception_ptr error) {
    if (error) {
      outcome.set_exception(error);
    } else {
      outcome.set_value(result);
    }
  });
  return outcome.get_future().get();
}

void EnqueueCombiner::Answer(Waiter& w, Answered& answered) {
  Finish(w);
  answered.push_back(&w);
}

void EnqueueCombiner::AnswerExpired(Answered& answered) {
  // From the front, up to the first waiter still in time: deadlines grow
  // with arrival (a later one past its deadline is answered when a
  // committer takes it).
  const auto now = SteadyClock::now();
  while (!queue_.empty() && queue_.front()->deadline <= now) {
    Waiter* w = queue_.front();
    queue_.pop_front();
    w->error = std::make_exception_ptr(TransientError("the enqueue waited too long for a database commit"));
    Answer(*w, answered);
  }
}

void EnqueueCombiner::CallBack(Answered& answered) {
  for (Waiter* w : answered) {
    std::unique_ptr<Waiter> owned(w);
    try {
      w->callback(w->task, w->result, w->error);
    } catch (const std::exception& e) {
      spdlog::error("api: an enqueue's answer failed: {}", e.what());
    }
  }
  answered.clear();
}

void EnqueueCombiner::Finish(Waiter& w) {
  if (auto it = per_tenant_.find(w.task.tenant); it != per_tenant_.end() && --it->second == 0) {
    per_tenant_.erase(it);
  }
  --pending_;
}

std::vector<EnqueueCombiner::Waiter*> EnqueueCombiner::TakeGroup(Answered& answered) {
  std::vector<Waiter*> group;
  const auto now = SteadyClock::now();
  while (!queue_.empty() && group.size() < std::max<size_t>(options_.max_group, 1)) {
    Waiter* w = queue_.front();
    queue_.pop_front();
    if (w->deadline <= now) {
      w->error = std::make_exception_ptr(
          TransientError("the enqueue waited too long for a database commit"));
      Answer(*w, answered);
      continue;
    }
    group.push_back(w);
  }
  return group;
}

void EnqueueCombiner::Loop(size_t slot) {
  std::unique_lock lock(mutex_);
  Answered answered;
  for (;;) {
    work_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to commit
    std::vector<Waiter*> group = TakeGroup(answered);
    if (group.empty()) {
      lock.unlock();
      CallBack(answered);
      lock.lock();
      continue;
    }
    const auto started = SteadyClock::now();
    in_flight_[slot] = started;
    lock.unlock();
    // Another committer may take what arrives meanwhile.
    work_.notify_one();
    CallBack(answered);

    std::vector<NewTask> tasks;
    tasks.reserve(group.size());
    for (Waiter* w : group) tasks.push_back(w->task);
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
      Answer(w, answered);
    }
    lock.unlock();
    CallBack(answered);
    lock.lock();
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
