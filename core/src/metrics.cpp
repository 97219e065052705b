#include "fila/core/metrics.h"

namespace fila {

WorkerMetrics& NoWorkerMetrics() {
  static WorkerMetrics none;
  return none;
}

SchedulerMetrics& NoSchedulerMetrics() {
  static SchedulerMetrics none;
  return none;
}

}  // namespace fila
