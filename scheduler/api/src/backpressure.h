#pragma once

#include <atomic>
#include <optional>
#include <string>

#include "enqueue_combiner.h"
#include "fila/api/api_server.h"
#include "fila/core/metrics.h"

namespace fila::api {

// Refuses enqueues (ApiError 429 resource_exhausted with Retry-After)
// before they touch the database, when the database falls behind:
// - commit latency: while recent group commits take longer than
//   max_commit_latency, the tenants holding at least their fair share (1/N
//   of N tenants) of the enqueues waiting for a commit are refused; past
//   twice the bound (latency still growing), every tenant is;
// - backlog: while more than max_backlog tasks are queued (the sampler's
//   last count), the tenants holding more than 1/N of them are refused;
//   past 1.25 times the bound, every tenant is.
// The combiner's own queue bound (queue_full) is enforced by the combiner.
// Thread-safe.
struct Refusal {
  std::string reason;  // commit_latency | backlog
  std::string message;
  int retry_after_s = 1;
};

// The decision of Backpressure::Check, pure: `load` and `backlog` as seen
// for the asking tenant. nullopt: let it through.
std::optional<Refusal> DecideBackpressure(const ApiBackpressure& options,
                                          const EnqueueCombiner::Load& load,
                                          const BacklogBoard::View& backlog);

class Backpressure final {
 public:
  Backpressure(const ApiBackpressure& options, const EnqueueCombiner& combiner,
               SchedulerMetrics& metrics);
  // Throws ApiError 429 when `tenant` must wait.
  void Check(const std::string& tenant);

 private:

  const ApiBackpressure& options_;
  const EnqueueCombiner& combiner_;
  SchedulerMetrics& metrics_;
  std::atomic<int64_t> last_log_ms_{0};
};

}  // namespace fila::api
