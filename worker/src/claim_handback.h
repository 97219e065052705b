#pragma once

// When a worker whose claims keep failing gives its deliveries back.

#include <chrono>

#include "fila/core/clock.h"

namespace fila {

// Claims that fail for `after` in a row (the database out of this worker's
// reach while other workers reach it) must not hold the deliveries waiting
// for them, up to the worker's prefetch, for as long as the outage lasts:
// the consumer thread then stops consuming and rejects them back to the
// broker, which hands them to other consumers. It consumes again once a
// heartbeat that began after the pause has reached the database. Owned by
// the consumer thread.
class ClaimHandback final {
 public:
  explicit ClaimHandback(std::chrono::milliseconds after) : after_(after) {}

  // A claim attempt ended.
  void Claimed(bool ok, SteadyClock::time_point now) {
    if (ok) {
      failing_ = false;
    } else if (!failing_) {
      failing_ = true;
      failing_since_ = now;
    }
  }
  // Whether to stop consuming and give the waiting deliveries back now.
  bool Due(SteadyClock::time_point now) const {
    return after_.count() > 0 && !paused_ && failing_ && now - failing_since_ >= after_;
  }
  void Paused(SteadyClock::time_point now) {
    paused_ = true;
    paused_at_ = now;
  }
  bool paused() const { return paused_; }
  // Whether to consume again, given when the last beat that got through began.
  bool ResumeDue(SteadyClock::time_point last_beat) const {
    return paused_ && last_beat > paused_at_;
  }
  void Resumed() {
    paused_ = false;
    failing_ = false;
  }
  // How long the claims have failed, for the log.
  std::chrono::milliseconds FailingFor(SteadyClock::time_point now) const {
    if (!failing_) return std::chrono::milliseconds(0);
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - failing_since_);
  }

 private:
  std::chrono::milliseconds after_;
  bool failing_ = false;
  SteadyClock::time_point failing_since_{};
  bool paused_ = false;
  SteadyClock::time_point paused_at_{};
};

}  // namespace fila
