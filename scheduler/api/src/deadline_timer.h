#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "fila/core/clock.h"

namespace fila::api {

// Runs callbacks at their deadline on one thread of its own, so that no
// request thread ever sleeps to enforce a timeout. Thread-safe.
class DeadlineTimer final {
 public:
  using Id = uint64_t;
  DeadlineTimer();
  ~DeadlineTimer();  // Stop()
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  // Calls `fn` once `at` has passed, unless cancelled first. `fn` runs on
  // the timer's thread without any lock held; it must not block, and what
  // it throws is logged and dropped.
  Id Add(Deadline at, std::function<void()> fn);
  // Forgets a callback that has not run yet (its captures are released);
  // no effect when it ran already.
  void Cancel(Id id);
  // Ends the thread; callbacks not run by then never run.
  void Stop();

 private:
  void Loop();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::multimap<Deadline, Id> order_;
  std::map<Id, std::pair<Deadline, std::function<void()>>> pending_;
  Id next_id_ = 1;
  // What the thread sleeps until (max: nothing pending). Add wakes it only
  // for an earlier deadline: one request after another each add and
  // cancel one, and a wake-up for each cost two context switches.
  Deadline sleeping_until_ = Deadline::max();
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace fila::api
