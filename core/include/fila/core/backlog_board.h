#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace fila {

// The tasks waiting to start (state queued), all and by tenant, as the
// scheduler's sampler last counted them: what the API's backpressure reads
// on every enqueue without a query of its own. Thread-safe.
class BacklogBoard final {
 public:
  struct View {
    bool known = false;    // false until the sampler posted once
    int64_t total = 0;     // all tenants
    int64_t of_tenant = 0; // the tenant asked about
    size_t tenants = 0;    // tenants with at least one task waiting
  };

  void Post(std::map<std::string, int64_t> by_tenant) {
    int64_t total = 0;
    for (const auto& [tenant, n] : by_tenant) total += n;
    std::lock_guard lock(mutex_);
    by_tenant_ = std::move(by_tenant);
    total_ = total;
    known_ = true;
  }

  View Of(const std::string& tenant) const {
    std::lock_guard lock(mutex_);
    View v;
    v.known = known_;
    v.total = total_;
    v.tenants = by_tenant_.size();
    if (auto it = by_tenant_.find(tenant); it != by_tenant_.end()) v.of_tenant = it->second;
    return v;
  }

 private:
  mutable std::mutex mutex_;
  bool known_ = false;
  int64_t total_ = 0;
  std::map<std::string, int64_t> by_tenant_;  // tenants with tasks waiting only
};

}  // namespace fila
