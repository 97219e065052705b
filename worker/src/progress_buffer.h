#pragma once

// Handlers' progress waiting to be written: the latest update per task
// wins, so a handler reporting in a tight loop costs one row write per
// flush. Put() from any slot; the finisher takes and writes. Thread-safe.

#include <map>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "fila/core/store_types.h"

namespace fila {

class ProgressBuffer final {
 public:
  void Put(ProgressUpdate update) {
    std::lock_guard lock(mutex_);
    std::string id = update.id;
    latest_[std::move(id)] = std::move(update);
  }
  // Every buffered update (one per task), leaving the buffer empty.
  std::vector<ProgressUpdate> TakeAll() {
    std::vector<ProgressUpdate> updates;
    std::lock_guard lock(mutex_);
    for (auto& [id, u] : latest_) updates.push_back(std::move(u));
    latest_.clear();
    return updates;
  }
  // Whether an update of any of `ids` waits to be written.
  bool HasAnyOf(std::span<const std::string> ids) const {
    std::lock_guard lock(mutex_);
    for (const auto& id : ids) {
      if (latest_.count(id) > 0) return true;
    }
    return false;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, ProgressUpdate> latest_;
};

}  // namespace fila
