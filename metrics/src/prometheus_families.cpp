#include "prometheus_families.h"

#include "fila/metrics/metrics_server.h"

namespace fila {

const std::vector<double>& DurationBuckets() {
  static const std::vector<double> kBuckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                            0.25,  0.5,    1,     2.5,  5,     10,   30,
                                            60,    120,    300,   600,  1800,  3600};
  return kBuckets;
}

namespace prom {

prometheus::Family<prometheus::Counter>& Counter(prometheus::Registry& registry,
                                                 const std::string& name, const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Gauge>& Gauge(prometheus::Registry& registry,
                                             const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Histogram>& Histogram(prometheus::Registry& registry,
                                                     const std::string& name,
                                                     const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Counter>& FinishedFamily(prometheus::Registry& registry) {
  return Counter(registry, "fila_tasks_finished_total",
                 "Attempts whose end was committed, by outcome (succeeded, failed, timed_out, "
                 "cancelled, lost)");
}

prometheus::Family<prometheus::Counter>& DeadFamily(prometheus::Registry& registry) {
  return Counter(registry, "fila_tasks_dead_total",
                 "Tasks that ended dead: out of attempts, or a permanent error");
}

}  // namespace prom
}  // namespace fila
