#include "fila/scheduler/reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "fila/core/errors.h"

namespace fila {
namespace {

// Passes are this far apart at least, whatever republish_after is.
constexpr std::chrono::milliseconds kMinInterval{100};

}  // namespace

Reconciler::Reconciler(ReconcileOptions options, LeaderStore& store, Publisher& publisher,
                       SchedulerMetrics& metrics)
    : options_(options), store_(store), publisher_(publisher), metrics_(metrics) {}

SteadyClock::time_point Reconciler::Pass() {
  if (options_.republish_after.count() <= 0) return SteadyClock::time_point::max();
  const auto stale = store_.QueuesWithStaleTasks(options_.republish_after.count());
  std::erase_if(repairing_, [&](const std::string& queue) {
    return std::find(stale.begin(), stale.end(), queue) == stale.end();
  });
  uint32_t budget = options_.batch;
  std::string broker_errors;
  for (const std::string& queue : stale) {
    if (budget == 0) break;
    QueueCounts counts;
    try {
      counts = publisher_.CountQueue(queue, DeadlineIn(options_.broker_timeout));
    } catch (const Error& e) {  // unreachable, or a queue it refuses: the others go on
      broker_errors += (broker_errors.empty() ? "" : "; ") + queue + ": " + e.what();
      continue;
    }
    budget -= Repair(queue, counts, budget);
  }
  if (!broker_errors.empty()) {
    throw std::runtime_error("cannot count the broker's messages of " + broker_errors);
  }
  if (budget == 0) return SteadyClock::now();
  return SteadyClock::now() + std::max(options_.republish_after / 2, kMinInterval);
}

uint32_t Reconciler::Repair(const std::string& queue, const QueueCounts& counts,
                            uint32_t budget) {
  const int64_t published = store_.CountPublished(queue);
  const int64_t missing = published - static_cast<int64_t>(counts.ready);
  // Consumed with messages left: a difference no larger than what the
  // consumers may hold delivered and unclaimed can be deliveries in flight.
  if (missing > 0 && counts.ready > 0 && counts.consumers > 0 && !repairing_.contains(queue) &&
      missing <= store_.FreeConsumerSlots(queue, options_.republish_after.count())) {
    return 0;
  }
  const auto limit = static_cast<uint32_t>(std::clamp<int64_t>(missing, 0, budget));
  const int64_t republished =
      limit == 0 ? 0 : store_.RepublishStale(queue, options_.republish_after.count(), limit);
  if (republished <= 0) {
    repairing_.erase(queue);  // slow, not lost: the broker holds them
    return 0;
  }
  repairing_.insert(queue);
  spdlog::warn("reconcile: queue {} holds {} ready messages for {} published queued tasks; "
               "publishing {} again (queued over {} ms and unclaimed)",
               queue, counts.ready, published, republished, options_.republish_after.count());
  metrics_.Republished(queue, static_cast<uint64_t>(republished));
  republished_ += static_cast<uint64_t>(republished);
  return static_cast<uint32_t>(republished);
}

}  // namespace fila
