#pragma once

// The busy-slot gauge (fila_worker_slots): slots running a handler,
// abandoned ones excluded. Thread-safe.

#include <cstdint>
#include <mutex>

#include "fila/core/metrics.h"

namespace fila {

class BusySlots final {
 public:
  BusySlots(WorkerMetrics& metrics, uint32_t concurrency)
      : metrics_(metrics), concurrency_(concurrency) {}

  // Changed under the mutex so that the last value set is the count.
  void Change(int delta) {
    std::lock_guard lock(mutex_);
    busy_ = static_cast<uint32_t>(static_cast<int>(busy_) + delta);
    metrics_.Slots(busy_, concurrency_);
  }

 private:
  WorkerMetrics& metrics_;
  const uint32_t concurrency_;
  std::mutex mutex_;
  uint32_t busy_ = 0;
};

}  // namespace fila
