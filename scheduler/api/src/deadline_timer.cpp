#include "deadline_timer.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <vector>

namespace fila::api {

DeadlineTimer::DeadlineTimer() : thread_([this] { Loop(); }) {}

DeadlineTimer::~DeadlineTimer() { Stop(); }

DeadlineTimer::Id DeadlineTimer::Add(Deadline at, std::function<void()> fn) {
  std::lock_guard lock(mutex_);
  const Id id = next_id_++;
  order_.emplace(at, id);
  pending_.emplace(id, std::make_pair(at, std::move(fn)));
  // A cancelled deadline leaves the thread asleep until it: it then wakes
  // once, finds nothing due and sleeps until the next.
  if (at < sleeping_until_) {
    sleeping_until_ = at;
    changed_.notify_one();
  }
  return id;
}

void DeadlineTimer::Cancel(Id id) {
  std::function<void()> dropped;  // destroyed outside the lock: it may own anything
  std::lock_guard lock(mutex_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  auto [first, last] = order_.equal_range(it->second.first);
  for (auto o = first; o != last; ++o) {
    if (o->second == id) {
      order_.erase(o);
      break;
    }
  }
  dropped = std::move(it->second.second);
  pending_.erase(it);
}

void DeadlineTimer::Stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_one();
  if (thread_.joinable()) thread_.join();
  std::map<Id, std::pair<Deadline, std::function<void()>>> dropped;
  std::lock_guard lock(mutex_);
  dropped.swap(pending_);
  order_.clear();
}

void DeadlineTimer::Loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (order_.empty()) {
      sleeping_until_ = Deadline::max();
      changed_.wait(lock);
      continue;
    }
    const Deadline next = order_.begin()->first;
    if (SteadyClock::now() < next) {
      sleeping_until_ = next;
      changed_.wait_until(lock, next);
      continue;
    }
    std::vector<std::function<void()>> due;
    const auto now = SteadyClock::now();
    while (!order_.empty() && order_.begin()->first <= now) {
      auto it = pending_.find(order_.begin()->second);
      due.push_back(std::move(it->second.second));
      pending_.erase(it);
      order_.erase(order_.begin());
    }
    lock.unlock();
    for (auto& fn : due) {
      try {
        fn();
      } catch (const std::exception& e) {
        spdlog::error("api: a deadline callback failed: {}", e.what());
      }
    }
    due.clear();
    lock.lock();
  }
}

}  // namespace fila::api
