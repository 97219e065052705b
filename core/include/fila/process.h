#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "fila/clock.h"
#include "fila/errors.h"

namespace fila {

// Installs SIGTERM and SIGINT handlers that set the returned flag (once per
// process; later calls return the same flag).
const std::atomic<bool>& InstallStopSignals();

// Sleeps up to `duration`, returning early (false) once `stop` is set.
bool SleepUnlessStopped(std::chrono::milliseconds duration, const std::atomic<bool>& stop);

// Calls `fn` until it returns without TransientError. Past `deadline` the
// last TransientError propagates. Backs off 100 ms doubling up to 2 s.
template <typename Fn>
auto RetryTransient(Deadline deadline, Fn&& fn) -> decltype(fn()) {
  auto backoff = std::chrono::milliseconds(100);
  while (true) {
    try {
      return fn();
    } catch (const TransientError&) {
      if (SteadyClock::now() + backoff >= deadline) throw;
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  }
}

// "host-pid": a default identity for a worker process.
std::string DefaultWorkerId();
std::string HostName();

}  // namespace fila
