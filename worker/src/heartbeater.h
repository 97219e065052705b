#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "fila/core/clock.h"
#include "fila/core/readiness.h"
#include "fila/core/worker_store.h"
#include "fila/worker/worker_runtime.h"
#include "finish_tally.h"
#include "held_attempts.h"

namespace fila {

// What a heartbeat reports; every part must outlive the Heartbeater.
struct HeartbeatParts {
  const WorkerOptions& options;
  const HeldAttempts& held;        // whose leases each beat extends
  const WorkerCounters& counters;  // succeeded, failed
  const FinishTally& finished;     // per queue
  PartHealth& health;
};

// The thread that owns the worker's third store connection and does
// nothing but heartbeat (with the lease renewal of the held tasks) every
// heartbeat_interval. Nothing else shares the thread or the connection: no
// burst of finishes, children or claims can hold a beat back, so the
// reaper never takes a live worker for a dead one.
class Heartbeater final {
 public:
  Heartbeater(HeartbeatParts parts, std::unique_ptr<WorkerStore> store);
  ~Heartbeater();
  void Start();
  // Stops beating, deregisters the worker and joins. Call it last, once
  // every finish is recorded (or let go): until then the held tasks'
  // leases must go on being renewed, and once deregistered the reaper
  // takes back at once whatever still runs under this worker's name.
  void Stop();
  // The last beat that reached the database is more than three intervals
  // old (two missed, or one stuck): the reaper may soon take this
  // worker for dead, so a task claimed now could be taken back while it
  // runs. The claims wait until a beat gets through. Thread-safe.
  bool Overdue() const;
  // When the last beat that reached the database began. Thread-safe.
  SteadyClock::time_point LastBeat() const;
  // An operator drained this worker (POST /v1/workers/{id}:drain), as the
  // last beat that got through read it. Thread-safe.
  bool DrainRequested() const { return drain_requested_; }

 private:
  void Loop();
  void Beat();

  HeartbeatParts parts_;
  std::unique_ptr<WorkerStore> store_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mutex_
  std::atomic<SteadyClock::rep> last_beat_{0};  // of the last beat that got through
  std::atomic<bool> drain_requested_{false};
};

}  // namespace fila
