#pragma once

// Committed finishes per queue since the worker started, counted by the
// finisher and reported with every heartbeat (fila top). Thread-safe.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace fila {

class FinishTally final {
 public:
  void Add(const std::string& queue) {
    std::lock_guard lock(mutex_);
    ++by_queue_[queue];
  }
  std::map<std::string, uint64_t> ByQueue() const {
    std::lock_guard lock(mutex_);
    return by_queue_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, uint64_t> by_queue_;
};

}  // namespace fila
