#pragma once

// The tasks this worker claimed and has not recorded yet, with their
// attempt: the heartbeat extends the leases of these only
// (WorkerInfo::held). Thread-safe.

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace fila {

class HeldAttempts final {
 public:
  // A claim committed: `id` is held under `attempt` (a later attempt of
  // the same task replaces an earlier one).
  void Hold(const std::string& id, uint32_t attempt) {
    std::lock_guard lock(mutex_);
    held_[id] = attempt;
  }
  // Attempt `attempt` of `id` was recorded or let go. Only that attempt: a
  // retry claimed meanwhile stays held.
  void Release(const std::string& id, uint32_t attempt) {
    std::lock_guard lock(mutex_);
    auto it = held_.find(id);
    if (it != held_.end() && it->second == attempt) held_.erase(it);
  }
  std::vector<std::string> Ids() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> ids;
    ids.reserve(held_.size());
    for (const auto& [id, attempt] : held_) ids.push_back(id);
    return ids;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, uint32_t> held_;
};

}  // namespace fila
