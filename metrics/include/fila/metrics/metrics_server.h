#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "fila/core/extension_metrics.h"
#include "fila/core/metrics.h"
#include "fila/core/readiness.h"

namespace fila {

// Serves, on one HTTP port:
//   /metrics  Prometheus text exposition of this process's metrics
//   /healthz  200 while the process is alive
//   /readyz   200 when every readiness check passes, else 503 naming the
//             failing checks (also exported as the fila_ready gauge)
// `component` ("worker", "scheduler") labels fila_build_info.
// Thread-safe. `readiness` must outlive the server.
class MetricsServer final {
 public:
  // `listen` is "HOST:PORT" (port 0 picks a free port; see Address()).
  // Throws PermanentError for a malformed address, TransientError when the
  // port cannot be bound.
  MetricsServer(const std::string& listen, const std::string& component,
                const Readiness& readiness);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // "HOST:PORT" actually bound.
  const std::string& Address() const;
  uint16_t Port() const;

  // The metric families of each daemon, registered on first use.
  WorkerMetrics& Worker();
  SchedulerMetrics& Scheduler();
  // Where extensions' handlers declare their own families (a worker hands
  // it to them as WorkerServices::metrics).
  MetricRegistry& Extensions();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Histogram buckets for task and request durations, in seconds: fine from
// 1 ms (no-op tasks) up to an hour (long PDF jobs).
const std::vector<double>& DurationBuckets();

}  // namespace fila
