#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "fila/core/clock.h"
#include "fila/core/errors.h"

namespace fila {

// Installs SIGTERM and SIGINT handlers that set the returned flag (once per
// process; later calls return the same flag).
const std::atomic<bool>& InstallStopSignals();

// Makes a fatal signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP)
// print "fatal signal N" and a backtrace on stderr before the process dies
// of it as before (core dump and exit status unchanged), so that a crash
// in production says where it happened. Async-signal-safe.
void InstallCrashReport(const char* program);

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

// Exit codes shared by fila's programs.
inline constexpr int kExitFailure = 1;  // runtime failure: an unreachable server, a timeout
inline constexpr int kExitUsage = 2;    // bad input or configuration

// One step of a daemon's start: runs `fn`, retrying transient errors until
// `deadline`. Returns 0, or the exit code after passing the reason to
// `report` (`what` names the server, e.g. "PostgreSQL at <redacted url>").
template <typename Fn, typename Report>
int StartupStep(Deadline deadline, const std::string& what, Fn&& fn, Report&& report) {
  try {
    RetryTransient(deadline, fn);
    return 0;
  } catch (const PermanentError& e) {
    report(std::string(e.what()));
    return kExitUsage;
  } catch (const Error& e) {
    report("cannot use " + what + ": " + e.what());
    return kExitFailure;
  }
}

// "host-pid": a default identity for a worker process.
std::string DefaultWorkerId();
std::string HostName();

}  // namespace fila
