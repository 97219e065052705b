#pragma once

#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "busy_slots.h"
#include "finish_queue.h"
#include "fila/core/handler.h"
#include "fila/core/metrics.h"
#include "fila/core/task_types.h"
#include "fila/worker/worker_runtime.h"
#include "job.h"
#include "progress_buffer.h"

namespace fila {

class SlotContext;

// The worker's slots: one thread each, running handlers of claimed jobs,
// plus a watchdog that abandons handlers which ignore their deadline or a
// cancellation for longer than the grace period: the attempt is recorded
// at once and a fresh thread takes the slot. Thread-safe.
//
// Slots pop jobs from `runnable`, put their handlers' progress in
// `progress` and hand every outcome (abandoned and handed-back ones too) to
// `finishes`. They count abandoned and handed-back attempts in `counters`,
// and keep the busy-slot gauge of `metrics`. Everything passed in must
// outlive the pool.
class SlotPool final {
 public:
  SlotPool(const WorkerOptions& options, const HandlerRegistry& handlers, const TaskTypes& types,
           JobQueue& runnable, FinishQueue& finishes, ProgressBuffer& progress,
           WorkerCounters& counters, WorkerMetrics& metrics);
  ~SlotPool();

  void Start();
  // Operator cancellations of running attempts: their handlers see the flag.
  void Cancel(const std::vector<AttemptRef>& attempts);
  // Drain budget spent: every job still running is handed back (recorded as
  // lost, scheduled to run again now) and its thread left behind.
  void HandBackRunning();
  // Joins the slot threads once `runnable` is closed; abandoned ones are
  // detached (they may still be inside a handler).
  void Stop();
  bool HasStuckThreads() const;
  // Too many slots were abandoned (WorkerOptions::max_abandoned): the
  // worker must stop consuming and drain. Set by the watchdog.
  bool Overloaded() const { return overloaded_.load(); }

 private:
  struct Slot {
    std::mutex mutex;
    std::shared_ptr<const Job> job;  // null when idle
    SlotContext* context = nullptr;
    Deadline deadline{};
    Deadline cancelled_at{};
    Deadline started{};
    bool abandoned = false;
    std::thread thread;
  };

  void AddSlot();
  void SlotLoop(Slot& slot, unsigned seed);
  Done Execute(const Job& job, SlotContext& ctx, std::mt19937_64& rng);
  // One line per attempt that did not succeed (debug for successes), with
  // the task's fields from the slot's logging scope.
  static void LogOutcome(const Done& done);
  void WatchdogLoop();
  // Abandons the job of `slot` (locked by the caller) with `record`.
  void Abandon(Slot& slot, FinishRecord record);

  const WorkerOptions& options_;
  const HandlerRegistry& handlers_;
  const TaskTypes& types_;
  JobQueue& runnable_;
  FinishQueue& finishes_;
  ProgressBuffer& progress_;
  WorkerCounters& counters_;
  WorkerMetrics& metrics_;
  BusySlots busy_;
  std::atomic<bool> overloaded_{false};
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::random_device seeds_;
  std::mt19937_64 watchdog_rng_;
  std::thread watchdog_;
  std::atomic<bool> stopping_{false};
  bool stuck_ = false;
};

}  // namespace fila
