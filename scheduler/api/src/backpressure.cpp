#include "backpressure.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "fila/core/text_limit.h"
#include "router_support.h"

namespace fila::api {
namespace {

// Past these multiples of a bound every tenant is refused, not only the
// ones above their share.
constexpr double kLatencyEveryone = 2.0;
constexpr double kBacklogEveryone = 1.25;

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             SteadyClock::now().time_since_epoch())
      .count();
}

}  // namespace

std::optional<Refusal> DecideBackpressure(const ApiBackpressure& options,
                                          const EnqueueCombiner::Load& load,
                                          const BacklogBoard::View& backlog) {
  if (options.max_commit_latency.count() > 0) {
    const double bound = std::chrono::duration<double>(options.max_commit_latency).count();
    if (load.commit_seconds > bound) {
      const bool fair_share_or_more =
          load.queued_of_tenant > 0 && load.queued_of_tenant * load.tenants >= load.queued;
      if (fair_share_or_more || load.commit_seconds > kLatencyEveryone * bound) {
        return Refusal{"commit_latency",
                       "the database commits slowly (" +
                           std::to_string(static_cast<int64_t>(load.commit_seconds * 1000)) +
                           " ms); retry later",
                       1};
      }
    }
  }
  if (options.max_backlog > 0 && backlog.known && backlog.total > options.max_backlog) {
    const bool over_share = backlog.of_tenant * static_cast<int64_t>(backlog.tenants) > backlog.total;
    const bool everyone = static_cast<double>(backlog.total) >
                          kBacklogEveryone * static_cast<double>(options.max_backlog);
    if (over_share || everyone) {
      return Refusal{"backlog", std::to_string(backlog.total) + " tasks wait to start; retry later", 5};
    }
  }
  return std::nullopt;
}

Backpressure::Backpressure(const ApiBackpressure& options, const EnqueueCombiner& combiner,
                           SchedulerMetrics& metrics)
    : options_(options), combiner_(combiner), metrics_(metrics) {}

void Backpressure::Check(const std::string& tenant) {
  const auto load = options_.max_commit_latency.count() > 0 ? combiner_.LoadOf(tenant)
                                                             : EnqueueCombiner::Load{};
  const auto backlog =
      options_.max_backlog > 0 && options_.backlog ? options_.backlog->Of(tenant) : BacklogBoard::View{};
  auto refusal = DecideBackpressure(options_, load, backlog);
  if (!refusal) return;
  metrics_.Backpressure(refusal->reason);
  // Tenants are not metric labels (unbounded): the log names them, at most
  // once a second.
  const int64_t now = SteadyMs();
  int64_t last = last_log_ms_.load();
  if (now - last >= 1000 && last_log_ms_.compare_exchange_strong(last, now)) {
    spdlog::warn("api: backpressure ({}): refusing enqueues of tenant '{}': {}", refusal->reason,
                 TruncateText(tenant, 64), refusal->message);
  }
  throw ApiError{429, "resource_exhausted", refusal->message, "", refusal->retry_after_s};
}

}  // namespace fila::api
